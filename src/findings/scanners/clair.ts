/**
 * Fetching a Clair v4 report, from Clair itself or through Quay, whichever the policy's
 * `vulnerabilities.scanner.url` names: a URL whose path ends in `/api/v1` is Quay's API root
 * (GET repository/{repo}/manifest/{digest}/security), anything else is Clair's base URL
 * (GET matcher/api/v1/vulnerability_report/{digest}). Both index on push; Sluice only reads.
 */
import { SluiceError } from '../../errors.ts';
import { isHttpFailure, type OutboundClient } from '../../http/index.ts';
import { MAX_REPORT_BYTES } from '../reports/index.ts';

export interface ClairTarget {
  /** The scanner URL from the policy. */
  url: string;
  digest: string;
  /** `path` of the repository inside the registry; Quay needs it, Clair does not. */
  repository: string;
  /** Bearer token (Quay robot or OAuth token, Clair PSK-signed JWT), when the API wants one. */
  token?: string;
  timeoutMs?: number;
}

export function isQuayApi(url: URL): boolean {
  return /\/api\/v1\/?$/.test(url.pathname);
}

export function reportUrl(t: ClairTarget): URL {
  const base = new URL(t.url);
  const root = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
  const path = isQuayApi(base)
    ? `${root}repository/${t.repository.split('/').map(encodeURIComponent).join('/')}/manifest/${encodeURIComponent(t.digest)}/security`
    : `${root}matcher/api/v1/vulnerability_report/${encodeURIComponent(t.digest)}`;
  const url = new URL(path, base);
  if (isQuayApi(base)) url.searchParams.set('vulnerabilities', 'true');
  return url;
}

/** The report's text, to be read by `parseReport` (format `clair` reads both shapes). */
export async function fetchClairReport(client: OutboundClient, t: ClairTarget): Promise<string> {
  const url = reportUrl(t);
  const where = `${isQuayApi(new URL(t.url)) ? 'Quay' : 'Clair'} at ${url.host}`;
  let res;
  try {
    res = await client.request({
      method: 'GET',
      url,
      headers: { accept: 'application/json', ...(t.token ? { authorization: `Bearer ${t.token}` } : {}) },
      maxResponseBytes: MAX_REPORT_BYTES,
      timeoutMs: t.timeoutMs ?? 60_000,
    });
  } catch (err) {
    const detail = isHttpFailure(err) ? err.message : (err as Error).message;
    throw new SluiceError('SCAN_FAILED', 'unavailable', `${where}: ${detail}`, { digest: t.digest });
  }
  if (res.status === 404) {
    throw new SluiceError(
      'SCAN_FAILED',
      'unavailable',
      `${where} has no report for ${t.digest} (not indexed yet: it indexes on push)`,
      {
        digest: t.digest,
      },
    );
  }
  if (res.status === 401 || res.status === 403) {
    throw new SluiceError(
      'SCAN_FAILED',
      'unavailable',
      `${where} refused the request (${res.status}); check the scanner token`,
      {
        digest: t.digest,
      },
    );
  }
  if (res.status !== 200) {
    throw new SluiceError('SCAN_FAILED', 'unavailable', `${where} answered ${res.status} for ${t.digest}`, {
      digest: t.digest,
    });
  }
  return res.text();
}
