/**
 * Tag deletion through the registries' own APIs. The OCI API can only delete a manifest by
 * digest on most registries, which takes every tag on it along; Quay and Harbor can remove one
 * tag and leave the manifest and its other tags, through their REST APIs:
 *
 * - Quay: `DELETE /api/v1/repository/{namespace}/{repository}/tag/{tag}` with an OAuth/app
 *   token as `Authorization: Bearer` (Quay API docs, "deleteFullTag"); 204 on success.
 * - Harbor 2.x: `DELETE /api/v2.0/projects/{project}/repositories/{repository}/artifacts/{reference}/tags/{tag}`
 *   with Basic auth; the repository name is URL-encoded twice when it contains `/`
 *   (Harbor API v2.0 swagger); 200 on success.
 */
import { SluiceError } from '../errors.ts';
import { categoryForStatus } from '../http/index.ts';
import type { Credential } from '../oci/credentials.ts';
import { HttpTransport } from '../oci/transport.ts';

export interface TagDeleter {
  deleteTag(repository: string, tag: string, digest: string): Promise<void>;
}

/** Error texts are read for one message; anything longer is not worth holding. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
const DELETE_TIMEOUT_MS = 30_000;

function authHeader(kind: 'quay' | 'harbor', cred: Credential | undefined): Record<string, string> {
  if (!cred) return {};
  if (kind === 'quay') {
    // Quay's REST API takes OAuth tokens, not robot passwords.
    const token = cred.registryToken ?? cred.password;
    return token ? { authorization: `Bearer ${token}` } : {};
  }
  if (cred.username !== undefined) {
    return { authorization: `Basic ${Buffer.from(`${cred.username}:${cred.password ?? ''}`).toString('base64')}` };
  }
  return cred.registryToken ? { authorization: `Bearer ${cred.registryToken}` } : {};
}

/**
 * One DELETE through the registry's own transport, so the vendor API is reached with the
 * registry's CA bundle and `insecure` setting (ADR 0002), its connection limit and its retry
 * budget. Redirects are not followed: the credentials would go along.
 */
async function send(
  kind: 'quay' | 'harbor',
  transport: HttpTransport,
  url: string,
  headers: Record<string, string>,
  ok: number[],
  what: string,
): Promise<void> {
  let res;
  try {
    res = await transport.request({
      method: 'DELETE',
      url: new URL(url),
      headers: { accept: 'application/json', ...headers },
      followRedirects: false,
      signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
    });
  } catch (err) {
    // An untrusted certificate keeps its own code and advice (configure the registry's caFile).
    if (err instanceof SluiceError && err.code === 'TLS_UNTRUSTED') throw err;
    throw new SluiceError(
      'REGISTRY_UNREACHABLE',
      'unavailable',
      `${kind} API for ${what}: ${(err as Error).message}`,
      { operation: `${kind} delete tag` },
      err,
    );
  }
  if (ok.includes(res.status) || res.status === 404) {
    // 404: already gone, the goal is reached.
    await res.discard();
    return;
  }
  let detail = '';
  try {
    const body = JSON.parse(await res.text(MAX_ERROR_BODY_BYTES)) as {
      error_message?: string;
      detail?: string;
      errors?: Array<{ message?: string }>;
    };
    detail = body.error_message ?? body.detail ?? body.errors?.[0]?.message ?? '';
  } catch {
    /* not JSON, or too long to be an error text */
  }
  // 404 ended above; a 410 here, like any other refusal, is the registry's answer to a valid request.
  const byStatus = categoryForStatus(res.status, { otherClientError: 'integrity' });
  throw new SluiceError(
    'TAG_DELETE_FAILED',
    byStatus === 'not-found' ? 'integrity' : byStatus,
    `${kind} API refused to delete ${what}: HTTP ${res.status}${detail ? ` ${detail}` : ''}`,
    {
      operation: `${kind} delete tag`,
      httpStatus: res.status,
    },
  );
}

export function quayTagDeleter(
  baseUrl: string,
  cred: Credential | undefined,
  /** The registry's transport (`RegistryClient.transport`); a default one trusts the system roots only. */
  transport: HttpTransport = new HttpTransport(),
): TagDeleter {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async deleteTag(repository, tag) {
      const url = `${base}/api/v1/repository/${repository.split('/').map(encodeURIComponent).join('/')}/tag/${encodeURIComponent(tag)}`;
      await send('quay', transport, url, authHeader('quay', cred), [200, 202, 204], `${repository}:${tag}`);
    },
  };
}

export function harborTagDeleter(
  baseUrl: string,
  cred: Credential | undefined,
  /** The registry's transport (`RegistryClient.transport`); a default one trusts the system roots only. */
  transport: HttpTransport = new HttpTransport(),
): TagDeleter {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async deleteTag(repository, tag, digest) {
      const slash = repository.indexOf('/');
      if (slash <= 0)
        throw new SluiceError(
          'REPOSITORY_INVALID',
          'invalid-input',
          `Harbor repositories are project/name, got "${repository}"`,
        );
      const project = repository.slice(0, slash);
      const name = encodeURIComponent(encodeURIComponent(repository.slice(slash + 1)));
      const url = `${base}/api/v2.0/projects/${encodeURIComponent(project)}/repositories/${name}/artifacts/${encodeURIComponent(digest)}/tags/${encodeURIComponent(tag)}`;
      await send('harbor', transport, url, authHeader('harbor', cred), [200, 202, 204], `${repository}:${tag}`);
    },
  };
}
