/**
 * The decisions as the planner hands them out. A plan over a large registry holds millions of
 * them, so they keep references to the inventory records they describe and derive ages,
 * sizes and sentences on access instead of copying them: a third of the memory of plain
 * objects. `toJSON` gives the plain form (what `-o json` prints and what a saved plan holds);
 * both satisfy the `TagDecision` and `DigestDecision` interfaces.
 */
import type { ManifestRecord, TagKind, TagRecord } from './model.ts';
import type { DigestAction, DigestDecision, TagAction, TagDecision } from './plan.ts';
import { REASON_CODES, shortDigest, type ReasonCode } from './reasons.ts';

/** How `detail` becomes the sentence. */
export const Fmt = {
  verbatim: 0,
  keptTag: 1,
  childOfKeptIndex: 2,
  artifactOfKept: 3,
  artifactOfDeleted: 4,
  childOfDeletedIndex: 5,
} as const;
export type Fmt = (typeof Fmt)[keyof typeof Fmt];

export function formatReason(fmt: Fmt, detail: string): string {
  switch (fmt) {
    case Fmt.keptTag:
      return `tag ${detail} points to it`;
    case Fmt.childOfKeptIndex:
      return `child of kept index ${shortDigest(detail)}`;
    case Fmt.artifactOfKept:
      return `artifact of ${shortDigest(detail)}, which is kept`;
    case Fmt.artifactOfDeleted:
      return `artifact of ${shortDigest(detail)}, which is deleted`;
    case Fmt.childOfDeletedIndex:
      return `untagged child of deleted index ${shortDigest(detail)}, nothing else references it`;
    default:
      return detail;
  }
}

export interface Clock {
  readonly now: number;
}

const CODE_INDEX = new Map<ReasonCode, number>(REASON_CODES.map((c, i) => [c, i]));
const DIGEST_ACTIONS: readonly DigestAction[] = ['keep', 'untag-only', 'delete-manifest'];
const TAG_ACTIONS: readonly TagAction[] = ['keep', 'delete'];

/** Code, action and sentence format in one small integer: a field costs 8 bytes per row. */
function pack(code: ReasonCode, action: number, fmt: Fmt): number {
  return CODE_INDEX.get(code)! | (action << 6) | (fmt << 8);
}
const codeOf = (bits: number): ReasonCode => REASON_CODES[bits & 63]!;
const fmtOf = (bits: number): Fmt => ((bits >> 8) & 7) as Fmt;

export class DigestRow implements DigestDecision {
  /** The manifest record, or the bare digest of a manifest the inventory does not list. */
  readonly source: ManifestRecord | string;
  readonly bits: number;
  /** tags * 65536 + tagsDeleted. */
  readonly counts: number;
  readonly also: readonly ReasonCode[] | undefined;
  freed: number;
  readonly clock: Clock;
  readonly detail: string;

  constructor(
    clock: Clock,
    source: ManifestRecord | string,
    action: DigestAction,
    code: ReasonCode,
    fmt: Fmt,
    detail: string,
    also: readonly ReasonCode[] | undefined,
    tags: number,
    tagsDeleted: number,
  ) {
    this.source = source;
    this.bits = pack(code, DIGEST_ACTIONS.indexOf(action), fmt);
    this.counts = tags * 65536 + tagsDeleted;
    this.also = also;
    this.freed = 0;
    this.clock = clock;
    this.detail = detail;
  }

  get record(): ManifestRecord | undefined {
    return typeof this.source === 'string' ? undefined : this.source;
  }
  get digest(): string {
    return typeof this.source === 'string' ? this.source : this.source.digest;
  }
  get action(): DigestAction {
    return DIGEST_ACTIONS[(this.bits >> 6) & 3]!;
  }
  get code(): ReasonCode {
    return codeOf(this.bits);
  }
  get reason(): string {
    return formatReason(fmtOf(this.bits), this.detail);
  }
  get tags(): number {
    return Math.floor(this.counts / 65536);
  }
  get tagsDeleted(): number {
    return this.counts % 65536;
  }
  get mediaType(): string {
    return this.record?.mediaType ?? 'unknown';
  }
  get age(): number {
    const r = this.record;
    return r ? this.clock.now - r.pushed : 0;
  }
  get lastPull(): number | undefined {
    return this.record?.lastPull;
  }
  get size(): number {
    return this.record?.size ?? 0;
  }

  toJSON(): DigestDecision {
    const lastPull = this.lastPull;
    return {
      digest: this.digest,
      mediaType: this.mediaType,
      action: this.action,
      code: this.code,
      reason: this.reason,
      ...(this.also ? { also: this.also } : {}),
      tags: this.tags,
      tagsDeleted: this.tagsDeleted,
      age: this.age,
      ...(lastPull !== undefined ? { lastPull } : {}),
      size: this.size,
      freed: this.freed,
    };
  }
}

export class TagRow implements TagDecision {
  readonly record: TagRecord;
  readonly target: DigestRow;
  readonly bits: number;
  readonly detail: string;

  constructor(record: TagRecord, target: DigestRow, action: TagAction, code: ReasonCode, fmt: Fmt, detail: string) {
    this.record = record;
    this.target = target;
    this.bits = pack(code, action === 'delete' ? 1 : 0, fmt);
    this.detail = detail;
  }

  get tag(): string {
    return this.record.tag;
  }
  get digest(): string {
    return this.record.digest;
  }
  get kind(): TagKind {
    return this.record.kind;
  }
  get action(): TagAction {
    return TAG_ACTIONS[(this.bits >> 6) & 1]!;
  }
  get code(): ReasonCode {
    return codeOf(this.bits);
  }
  get reason(): string {
    return formatReason(fmtOf(this.bits), this.detail);
  }
  get age(): number {
    return this.target.clock.now - this.record.pushed;
  }
  get lastPull(): number | undefined {
    return this.target.lastPull;
  }
  get size(): number {
    return this.target.size;
  }

  toJSON(): TagDecision {
    const lastPull = this.lastPull;
    return {
      tag: this.tag,
      digest: this.digest,
      kind: this.kind,
      action: this.action,
      code: this.code,
      reason: this.reason,
      age: this.age,
      ...(lastPull !== undefined ? { lastPull } : {}),
      size: this.size,
    };
  }
}
