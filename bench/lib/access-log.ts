/**
 * Request counting from the registry's own access log. Distribution writes one line in
 * combined log format per request (next to its structured "response completed" lines):
 *
 *   127.0.0.1 - - [21/Nov/2026:05:19:01 +0000] "HEAD /v2/acme/api/blobs/sha256:… HTTP/1.1" 404 157 "" "skopeo/1.9.3"
 *
 * Nothing sits between client and registry, so timings are not disturbed by the counting.
 * The line is written after the response, so a window is read only once the file has stopped
 * growing for a moment.
 */
import { open, stat } from 'node:fs/promises';

export interface LoggedRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  userAgent: string;
}

const LINE = /^\S+ \S+ \S+ \[[^\]]+\] "(\S+) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;
const SETTLE_MS = 40;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function parseAccessLog(text: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const target = m[2]!;
    const q = target.indexOf('?');
    out.push({
      method: m[1]!,
      path: q < 0 ? target : target.slice(0, q),
      query: q < 0 ? '' : target.slice(q),
      status: Number(m[3]),
      userAgent: m[4]!,
    });
  }
  return out;
}

/** Reads the requests a registry logged since the last {@link AccessLog.mark}. */
export class AccessLog {
  readonly file: string;
  private offset = 0;

  constructor(file: string) {
    this.file = file;
  }

  /** Starts a new window at the current end of the log (after letting pending lines land). */
  async mark(): Promise<void> {
    this.offset = await this.settledSize();
  }

  /** Requests logged since the mark; moves the mark to the end. */
  async take(): Promise<LoggedRequest[]> {
    const end = await this.settledSize();
    const length = end - this.offset;
    if (length <= 0) return [];
    const handle = await open(this.file, 'r');
    try {
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, this.offset);
      this.offset = end;
      return parseAccessLog(buffer.toString('utf8'));
    } finally {
      await handle.close();
    }
  }

  private async settledSize(): Promise<number> {
    let size = (await stat(this.file)).size;
    for (;;) {
      await sleep(SETTLE_MS);
      const next = (await stat(this.file)).size;
      if (next === size) return size;
      size = next;
    }
  }
}

/** Method plus what the path addresses: `HEAD blob`, `POST mount`, `PUT manifest`, ... */
export function requestKind(r: LoggedRequest): string {
  const p = r.path;
  if (p === '/v2/' || p === '/v2') return `${r.method} /v2/ (ping)`;
  if (p === '/v2/_catalog') return `${r.method} catalog`;
  if (/\/blobs\/uploads\/?$/.test(p) && r.method === 'POST') {
    return /[?&]mount=/.test(r.query) ? `POST mount (${r.status === 201 ? 'mounted' : r.status})` : 'POST upload start';
  }
  if (/\/blobs\/uploads\/[^/]+$/.test(p)) return `${r.method} upload`;
  if (/\/blobs\/[^/]+$/.test(p)) return `${r.method} blob`;
  if (/\/manifests\/[^/]+$/.test(p)) {
    const ref = p.slice(p.lastIndexOf('/') + 1);
    return `${r.method} manifest ${ref.includes(':') ? 'by digest' : 'by tag'}`;
  }
  if (/\/tags\/list$/.test(p)) return `${r.method} tags/list`;
  if (/\/referrers\/[^/]+$/.test(p)) return `${r.method} referrers (${r.status})`;
  return `${r.method} other`;
}

/** Counts by {@link requestKind}, most frequent first. */
export function breakdown(requests: readonly LoggedRequest[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(requestKind(r), (counts.get(requestKind(r)) ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

export function formatBreakdown(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ');
}
