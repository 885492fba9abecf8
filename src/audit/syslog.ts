/**
 * Live forwarding of audit records to a syslog collector: RFC 5424 messages over TCP,
 * framed by octet counting (RFC 6587 §3.4.1), which unlike newline framing survives
 * multi-line values. The audit fields travel as structured data so the collector can index
 * them without parsing the free text.
 *
 * Forwarding never blocks or fails an append: records wait in a bounded in-memory queue
 * while the collector is unreachable (reconnecting with exponential backoff), and when the
 * queue is full the oldest records are dropped and counted. The database stays the record
 * of truth; a collector that missed records catches up from `sluice audit export`. Plain
 * TCP has no acknowledgements, so records written just before a collector dies can be lost
 * in transit as well.
 */
import { hostname as osHostname } from 'node:os';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import type { AuditSink } from './log.ts';
import type { AuditRecord, AuditResult } from './record.ts';

export interface SyslogOptions {
  host: string;
  port: number;
  /** APP-NAME; default `sluice`. */
  appName?: string;
  /** HOSTNAME; default the machine's host name. */
  hostname?: string;
  /** Default 13 ("log audit", RFC 5424 table 1). */
  facility?: number;
  /**
   * SD-ID of the audit element. The default uses 32473, the private enterprise number
   * reserved for documentation (RFC 5612); set your own when you have one.
   */
  sdId?: string;
  /** Records held while the collector is unreachable; default 10 000. */
  maxQueue?: number;
  /** First reconnect delay; doubles per failure up to maxBackoffMs. Default 100 ms. */
  initialBackoffMs?: number;
  /** Default 30 s. */
  maxBackoffMs?: number;
}

export interface SyslogStats {
  connected: boolean;
  queued: number;
  sent: number;
  dropped: number;
  reconnects: number;
}

/** Syslog severity by result (RFC 5424 table 2): 6 informational, 4 warning, 3 error. */
export const SYSLOG_SEVERITY: Record<AuditResult, number> = { success: 6, denied: 4, failure: 3 };

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` take a backslash. */
export function sdEscape(s: string): string {
  return s.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/** Header fields are printable US-ASCII without spaces, or NILVALUE. */
function headerField(s: string | undefined, max: number): string {
  const clean = (s ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** SD-NAME: printable US-ASCII except `=`, space, `]`, `"`; at most 32 characters. */
function sdName(s: string): string {
  const clean = s.replace(/[^\x21-\x7e]|[= \]"]/g, '').slice(0, 32);
  return clean === '' ? 'x' : clean;
}

export interface FormatOptions {
  appName?: string;
  hostname?: string;
  facility?: number;
  sdId?: string;
  procId?: string;
}

export const DEFAULT_SD_ID = 'sluiceAudit@32473';

/** One RFC 5424 message (without framing). */
export function formatSyslog(r: AuditRecord, options: FormatOptions = {}): string {
  const facility = options.facility ?? 13;
  const pri = facility * 8 + SYSLOG_SEVERITY[r.result];
  const params: Array<[string, string | number | null]> = [
    ['seq', r.seq],
    ['actor', r.actor],
    ['action', r.action],
    ['repository', r.repository],
    ['digest', r.digest],
    ['tag', r.tag],
    ['result', r.result],
    ['reason', r.reason],
    ['details', Object.keys(r.details).length > 0 ? JSON.stringify(r.details) : null],
    ['hash', r.hash],
    ['prevHash', r.prevHash],
  ];
  const sd = `[${sdName(options.sdId ?? DEFAULT_SD_ID)}${params
    .filter(([, v]) => v !== null)
    .map(([k, v]) => ` ${k}="${sdEscape(String(v))}"`)
    .join('')}]`;
  const target = [r.repository, r.tag === null ? null : `:${r.tag}`, r.digest === null ? null : `@${r.digest}`]
    .filter((x) => x !== null)
    .join('');
  const msg = `${r.actor} ${r.action}${target === '' ? '' : ` ${target}`} ${r.result}${r.reason === null ? '' : `: ${r.reason}`}`;
  return [
    `<${pri}>1`,
    r.time,
    headerField(options.hostname ?? osHostname(), 255),
    headerField(options.appName ?? 'sluice', 48),
    headerField(options.procId ?? String(process.pid), 128),
    headerField(r.action, 32),
    sd,
    // BOM marks MSG as UTF-8 (RFC 5424 §6.4).
    `\uFEFF${msg}`,
  ].join(' ');
}

/** RFC 6587 octet counting: the byte length, a space, the message. */
export function frameOctetCounting(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}

export class SyslogForwarder implements AuditSink {
  readonly #options: Required<Omit<SyslogOptions, 'hostname'>> & { hostname: string };
  readonly #queue: Buffer[] = [];
  #socket: Socket | undefined;
  #connected = false;
  #blocked = false;
  #inflight = 0;
  #requeued = 0;
  #closed = false;
  #backoffMs: number;
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;
  #dropped = 0;
  #reconnects = 0;
  #idleWaiters: Array<() => void> = [];

  constructor(options: SyslogOptions) {
    this.#options = {
      host: options.host,
      port: options.port,
      appName: options.appName ?? 'sluice',
      hostname: options.hostname ?? osHostname(),
      facility: options.facility ?? 13,
      sdId: options.sdId ?? DEFAULT_SD_ID,
      maxQueue: Math.max(1, options.maxQueue ?? 10_000),
      initialBackoffMs: options.initialBackoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 30_000,
    };
    this.#backoffMs = this.#options.initialBackoffMs;
    this.#connect();
  }

  get stats(): SyslogStats {
    return {
      connected: this.#connected,
      queued: this.#queue.length,
      sent: this.#sent,
      dropped: this.#dropped,
      reconnects: this.#reconnects,
    };
  }

  send(record: AuditRecord): void {
    if (this.#closed) return;
    const message = formatSyslog(record, {
      appName: this.#options.appName,
      hostname: this.#options.hostname,
      facility: this.#options.facility,
      sdId: this.#options.sdId,
    });
    this.#queue.push(frameOctetCounting(message));
    this.#trim();
    this.#pump();
  }

  #trim(): void {
    while (this.#queue.length > this.#options.maxQueue) {
      this.#queue.shift();
      this.#dropped++;
      if (this.#requeued > 0) this.#requeued--;
    }
  }

  /** Resolves once every queued record has been handed to the socket, or after timeoutMs. */
  async flush(timeoutMs = 5000): Promise<boolean> {
    if (this.#isIdle()) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  /** Stops reconnecting and closes the connection; queued records are discarded. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#connected = false;
    if (socket !== undefined && !socket.destroyed) {
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.end();
      // A collector that never acknowledges the FIN must not keep us waiting.
      const timer = setTimeout(() => socket.destroy(), 1000);
      await closed;
      clearTimeout(timer);
    }
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#inflight === 0;
  }

  #notifyIdle(): void {
    if (!this.#isIdle()) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('connect', () => {
      this.#connected = true;
      this.#requeued = 0;
      this.#backoffMs = this.#options.initialBackoffMs;
      this.#pump();
    });
    // The collector has nothing to say; reading keeps its FIN observable.
    socket.on('data', () => {});
    socket.on('end', () => socket.destroy());
    socket.on('error', () => {
      // 'close' follows and schedules the reconnect.
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#connected = false;
      this.#blocked = false;
      this.#scheduleReconnect();
    });
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    // Jitter keeps several replicas from reconnecting in lockstep after a collector restart.
    const delay = this.#backoffMs * (0.75 + Math.random() * 0.5);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs);
    this.#timer = setTimeout(() => {
      this.#reconnects++;
      this.#connect();
    }, delay);
    this.#timer.unref();
  }

  #pump(): void {
    const socket = this.#socket;
    if (!this.#connected || socket === undefined || this.#blocked) return;
    while (this.#queue.length > 0) {
      const frame = this.#queue.shift()!;
      this.#inflight++;
      const more = socket.write(frame, (err) => {
        this.#inflight--;
        if (err) {
          // Never handed to the kernel (the connection died first): resend after reconnecting,
          // ahead of newer records and in the original order.
          this.#queue.splice(this.#requeued++, 0, frame);
          this.#trim();
        } else {
          this.#sent++;
        }
        this.#notifyIdle();
      });
      if (!more) {
        this.#blocked = true;
        socket.once('drain', () => {
          this.#blocked = false;
          this.#pump();
        });
        return;
      }
    }
  }
}
