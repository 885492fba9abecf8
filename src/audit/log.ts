/**
 * Appending to, reading and verifying the hash-chained audit log.
 *
 * Appends are serialised across processes through the single `audit_head` row: on
 * PostgreSQL the appender locks it (SELECT … FOR UPDATE) for the rest of its transaction, on
 * SQLite the transaction holds the database write lock from BEGIN IMMEDIATE. So two replicas
 * can never both extend the same head, and seq is contiguous. The head also lets
 * verification notice records removed from, or slipped onto, the end of the chain.
 */
import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import { SluiceError } from '../errors.ts';
import { inTransaction } from '../store/index.ts';
import type { AuditLogTable, Store, StoreHandle, StoreTx } from '../store/index.ts';
import { GENESIS_HASH, hashRecord, prepareInput } from './record.ts';
import type { AuditInput, AuditRecord, AuditResult, HashedFields, JsonValue } from './record.ts';

export interface AuditSink {
  /** Called after the record is committed; must not throw or block. */
  send(record: AuditRecord): void;
}

export interface AppendOptions {
  /** Live forwarders (syslog); they see the record only once it is committed. */
  sinks?: readonly AuditSink[];
}

type Row = Selectable<AuditLogTable>;

function toFields(r: Row): HashedFields {
  return {
    seq: r.seq,
    time: r.time,
    actor: r.actor,
    action: r.action,
    repository: r.target_repository,
    digest: r.target_digest,
    tag: r.target_tag,
    reason: r.reason,
    result: r.result,
    details: r.details,
    prevHash: r.prev_hash,
  };
}

export function rowToRecord(r: Row): AuditRecord {
  return {
    seq: r.seq,
    time: new Date(r.time).toISOString(),
    actor: r.actor,
    action: r.action,
    repository: r.target_repository,
    digest: r.target_digest,
    tag: r.target_tag,
    reason: r.reason,
    result: r.result as AuditResult,
    details: JSON.parse(r.details) as Record<string, JsonValue>,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

/**
 * Appends one record. Secrets in `details` (and credentials in URLs or auth headers in any
 * text) are redacted before the record is hashed or stored. Inside a caller's transaction
 * (`store.transaction`), the record commits or rolls back with the caller's changes.
 */
export async function appendAudit(
  store: Store | StoreTx,
  input: AuditInput,
  options: AppendOptions = {},
): Promise<AuditRecord> {
  const p = prepareInput(input);
  return inTransaction(store, async (tx) => {
    const head = await tx.db
      .selectFrom('audit_head')
      .select(['seq', 'hash'])
      .where('id', '=', 1)
      .$if(tx.engine === 'postgres', (q) => q.forUpdate())
      .executeTakeFirst();
    if (head === undefined) {
      throw new SluiceError(
        'AUDIT_HEAD_MISSING',
        'integrity',
        `audit log in ${tx.target}: the chain head row is missing; run \`sluice audit verify\` and investigate`,
        { operation: 'audit.append' },
      );
    }
    const fields: HashedFields = {
      seq: head.seq + 1,
      time: tx.clock().getTime(),
      actor: p.actor,
      action: p.action,
      repository: p.repository,
      digest: p.digest,
      tag: p.tag,
      reason: p.reason,
      result: p.result,
      details: p.detailsJson,
      prevHash: head.hash,
    };
    const hash = hashRecord(fields);
    await tx.db
      .insertInto('audit_log')
      .values({
        seq: fields.seq,
        time: fields.time,
        actor: fields.actor,
        action: fields.action,
        target_repository: fields.repository,
        target_digest: fields.digest,
        target_tag: fields.tag,
        reason: fields.reason,
        result: fields.result,
        details: fields.details,
        prev_hash: fields.prevHash,
        hash,
      })
      .execute();
    await tx.db.updateTable('audit_head').set({ seq: fields.seq, hash }).where('id', '=', 1).execute();
    const record: AuditRecord = {
      seq: fields.seq,
      time: new Date(fields.time).toISOString(),
      actor: p.actor,
      action: p.action,
      repository: p.repository,
      digest: p.digest,
      tag: p.tag,
      reason: p.reason,
      result: p.result,
      details: p.details,
      prevHash: head.hash,
      hash,
    };
    for (const sink of options.sinks ?? []) tx.afterCommit(() => sink.send(record));
    return record;
  });
}

export interface AuditFilter {
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
  actor?: string;
  action?: string;
  /** `registry/namespace/name`, exact. */
  repository?: string;
  digest?: string;
  tag?: string;
  result?: AuditResult;
  /** Only records with seq greater than this (paging forwards). */
  afterSeq?: number;
  /** Only records with seq less than this (paging backwards). */
  beforeSeq?: number;
}

export interface ListOptions extends AuditFilter {
  /** Default 100, at most 10 000. */
  limit?: number;
  /** By seq; default newest first. */
  order?: 'asc' | 'desc';
}

export const MAX_LIST_LIMIT = 10_000;

function filtered(h: StoreHandle, f: AuditFilter) {
  return h.db
    .selectFrom('audit_log')
    .selectAll()
    .$if(f.since !== undefined, (q) => q.where('time', '>=', f.since!.getTime()))
    .$if(f.until !== undefined, (q) => q.where('time', '<', f.until!.getTime()))
    .$if(f.actor !== undefined, (q) => q.where('actor', '=', f.actor!))
    .$if(f.action !== undefined, (q) => q.where('action', '=', f.action!))
    .$if(f.repository !== undefined, (q) => q.where('target_repository', '=', f.repository!))
    .$if(f.digest !== undefined, (q) => q.where('target_digest', '=', f.digest!))
    .$if(f.tag !== undefined, (q) => q.where('target_tag', '=', f.tag!))
    .$if(f.result !== undefined, (q) => q.where('result', '=', f.result!))
    .$if(f.afterSeq !== undefined, (q) => q.where('seq', '>', f.afterSeq!))
    .$if(f.beforeSeq !== undefined, (q) => q.where('seq', '<', f.beforeSeq!));
}

export async function listAudit(store: StoreHandle, options: ListOptions = {}): Promise<AuditRecord[]> {
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new SluiceError('AUDIT_QUERY_INVALID', 'invalid-input', `limit must be between 1 and ${MAX_LIST_LIMIT}`);
  }
  const rows = await filtered(store, options)
    .orderBy('seq', options.order ?? 'desc')
    .limit(limit)
    .execute();
  return rows.map(rowToRecord);
}

/**
 * Matching records in seq order, fetched a page at a time so that memory stays bounded
 * however long the log is. Each page is its own query: no connection or snapshot is held
 * while the consumer works, so a slow consumer never blocks appenders.
 */
export async function* iterateAudit(
  store: StoreHandle,
  filter: AuditFilter & { limit?: number } = {},
  pageSize = 500,
): AsyncGenerator<AuditRecord> {
  let after = filter.afterSeq;
  let remaining = filter.limit ?? Number.POSITIVE_INFINITY;
  while (remaining > 0) {
    const rows = await filtered(store, { ...filter, afterSeq: after })
      .orderBy('seq', 'asc')
      .limit(Math.min(pageSize, remaining))
      .execute();
    for (const r of rows) yield rowToRecord(r);
    if (rows.length < pageSize) return;
    remaining -= rows.length;
    after = rows[rows.length - 1]!.seq;
  }
}

export type AuditDefect = 'edited' | 'removed' | 'reordered' | 'inserted';

export interface AuditFirstBad {
  /** The first position in the chain that is not what it should be. */
  seq: number;
  reason: AuditDefect;
  expected: string;
  found: string;
  message: string;
}

export type AuditVerification =
  | { ok: true; count: number; head: { seq: number; hash: string } }
  | { ok: false; /** Records before firstBad, all intact. */ count: number; firstBad: AuditFirstBad };

function short(hash: string): string {
  return hash.slice(0, 16);
}

/** A chain head kept outside Sluice (a SIEM, a ticket): `seq` and the hash of record `seq`. */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

const ANCHOR = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` as `sluice audit head` prints it. */
export function parseAuditAnchor(text: string, what = 'expected head'): AuditAnchor {
  const m = ANCHOR.exec(text.trim());
  if (!m) {
    throw new SluiceError(
      'AUDIT_ANCHOR_INVALID',
      'invalid-input',
      `${what} "${text.slice(0, 100)}${text.length > 100 ? '…' : ''}" is not SEQ:HASH (a record number, a colon and 64 lowercase hex digits, as \`sluice audit head\` prints it)`,
    );
  }
  return { seq: Number(m[1]), hash: m[2]! };
}

/** The chain head as stored: what to anchor elsewhere, and what `verify --expect-head` takes back. */
export async function auditHead(store: StoreHandle): Promise<AuditAnchor & { anchor: string; time: string | null }> {
  const head = await store.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  if (head === undefined) {
    throw new SluiceError(
      'AUDIT_HEAD_MISSING',
      'integrity',
      `audit log in ${store.target}: the chain head row is missing; run \`sluice audit verify\` and investigate`,
      { operation: 'audit.head' },
    );
  }
  const last = await store.db.selectFrom('audit_log').select('time').where('seq', '=', head.seq).executeTakeFirst();
  return {
    seq: head.seq,
    hash: head.hash,
    anchor: `${head.seq}:${head.hash}`,
    time: last ? new Date(last.time).toISOString() : null,
  };
}

/** How far renumbering after a removal is searched for (records removed in one place). */
const RENUMBER_SEARCH = 256;

/**
 * Walks the chain from the first record and reports the first record that is not what the
 * chain says it should be: `count` records verified before it. What it can tell:
 * - edited: the record's fields no longer produce its hash, or its hash was recomputed and
 *   the next record still remembers the old one;
 * - removed: a gap in seq, records renumbered after a removal, or fewer records than the head;
 * - reordered: the record that belongs at this seq (it links to the previous one and hashes
 *   correctly at this seq) sits at another seq;
 * - inserted: a record that the next one skips over, or records beyond the chain head.
 * Anyone who can write the database can also rebuild the whole chain with valid hashes, or cut
 * off the newest records and rewind the head with them; keep the head somewhere else (a
 * ticket, the SIEM) and pass it back as `expectHead`: then record `expectHead.seq` must still
 * be there with that hash (later records may follow).
 */
export async function verifyAudit(
  store: StoreHandle,
  options: { pageSize?: number; expectHead?: AuditAnchor } = {},
): Promise<AuditVerification> {
  const pageSize = options.pageSize ?? 1000;
  const anchor = options.expectHead;
  const head = await store.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirst();
  if (head === undefined) {
    return {
      ok: false,
      count: 0,
      firstBad: {
        seq: 0,
        reason: 'removed',
        expected: 'the chain head row (audit_head, id 1)',
        found: 'no row',
        message: 'the chain head row was removed',
      },
    };
  }
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let prevPrev: string | null = null;
  let count = 0;
  let cursor: number | undefined;
  // count: the records before the first bad one, all of which verified.
  const fail = (firstBad: AuditFirstBad): AuditVerification => ({
    ok: false,
    count: Math.max(0, firstBad.seq - 1),
    firstBad,
  });

  for (;;) {
    const rows = await store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '<=', head.seq)
      .$if(cursor !== undefined, (q) => q.where('seq', '>', cursor!))
      .orderBy('seq', 'asc')
      .limit(pageSize)
      .execute();
    for (const r of rows) {
      if (r.seq !== expectedSeq) {
        if (r.seq > expectedSeq) {
          return fail({
            seq: expectedSeq,
            reason: 'removed',
            expected: `record ${expectedSeq}`,
            found: `record ${r.seq} next`,
            message: `record ${expectedSeq}${r.seq - 1 > expectedSeq ? `-${r.seq - 1}` : ''} missing`,
          });
        }
        return fail({
          seq: r.seq,
          reason: 'inserted',
          expected: `record ${expectedSeq} first`,
          found: `record ${r.seq}`,
          message: `record ${r.seq} precedes the first record of the chain`,
        });
      }
      const fields = toFields(r);
      const computed = hashRecord(fields);
      const selfOk = computed === r.hash;
      if (selfOk && r.prev_hash === expectedPrev) {
        if (anchor !== undefined && r.seq === anchor.seq && r.hash !== anchor.hash) {
          // Intact in itself, yet not the record anchored: the chain was rebuilt from here or before.
          return fail({
            seq: r.seq,
            reason: 'edited',
            expected: `hash ${short(anchor.hash)}… (expected head ${anchor.seq})`,
            found: `hash ${short(r.hash)}…`,
            message: `record ${r.seq} is not the record the expected head names: the chain was rewritten up to it`,
          });
        }
        count++;
        prevPrev = expectedPrev;
        expectedPrev = r.hash;
        expectedSeq++;
        continue;
      }
      return fail(await diagnose(store, r, fields, computed, selfOk, expectedSeq, expectedPrev, prevPrev));
    }
    if (rows.length < pageSize) break;
    cursor = rows[rows.length - 1]!.seq;
  }

  const lastSeq = expectedSeq - 1;
  if (lastSeq < head.seq) {
    return fail({
      seq: expectedSeq,
      reason: 'removed',
      expected: `records up to ${head.seq} (chain head)`,
      found: lastSeq === 0 ? 'no records' : `records up to ${lastSeq}`,
      message: `record ${expectedSeq}${head.seq > expectedSeq ? `-${head.seq}` : ''} missing from the end`,
    });
  }
  if (anchor !== undefined && anchor.seq > lastSeq) {
    // The head row agrees with the records, so the newest records went and the head was rewound with them.
    return fail({
      seq: lastSeq + 1,
      reason: 'removed',
      expected: `records up to ${anchor.seq} (expected head)`,
      found: `${lastSeq === 0 ? 'no records' : `records up to ${lastSeq}`} (chain head ${head.seq})`,
      message: `record ${lastSeq + 1}${anchor.seq > lastSeq + 1 ? `-${anchor.seq}` : ''} missing from the end (expected head ${anchor.seq}): the newest records were removed and the chain head rewound`,
    });
  }
  if (anchor !== undefined && anchor.seq === 0 && anchor.hash !== GENESIS_HASH) {
    return fail({
      seq: 0,
      reason: 'edited',
      expected: `hash ${short(GENESIS_HASH)}… for the empty chain`,
      found: `hash ${short(anchor.hash)}… (expected head 0)`,
      message: 'the expected head 0 is not the empty chain',
    });
  }
  if (head.seq > 0 && expectedPrev !== head.hash) {
    return fail({
      seq: head.seq,
      reason: 'edited',
      expected: `hash ${short(head.hash)}… (chain head)`,
      found: `hash ${short(expectedPrev)}…`,
      message: `record ${head.seq} is not the record the chain head names`,
    });
  }
  // One statement, so an append committing meanwhile moves both values together.
  const beyond = await sql<{ head_seq: number | null; max_seq: number | null }>`
    select (select seq from audit_head where id = 1) as head_seq, (select max(seq) from audit_log) as max_seq
  `.execute(store.db);
  const now = beyond.rows[0];
  if (
    now !== undefined &&
    now.max_seq !== null &&
    now.head_seq !== null &&
    Number(now.max_seq) > Number(now.head_seq)
  ) {
    return fail({
      seq: Number(now.head_seq) + 1,
      reason: 'inserted',
      expected: `no records after ${now.head_seq} (chain head)`,
      found: `records up to ${now.max_seq}`,
      message: `records after the chain head were added outside Sluice`,
    });
  }
  return { ok: true, count, head: { seq: head.seq, hash: head.hash } };
}

async function diagnose(
  store: StoreHandle,
  r: Row,
  fields: HashedFields,
  computed: string,
  selfOk: boolean,
  expectedSeq: number,
  expectedPrev: string,
  prevPrev: string | null,
): Promise<AuditFirstBad> {
  // The record that belongs here links to the previous record; is it elsewhere, intact?
  const rightful = await store.db
    .selectFrom('audit_log')
    .selectAll()
    .where('prev_hash', '=', expectedPrev)
    .where('seq', '!=', r.seq)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  if (rightful !== undefined && hashRecord({ ...toFields(rightful), seq: expectedSeq }) === rightful.hash) {
    return {
      seq: expectedSeq,
      reason: 'reordered',
      expected: `record ${short(rightful.hash)}… at seq ${expectedSeq}`,
      found: `it at seq ${rightful.seq}, and record ${short(r.hash)}… at seq ${expectedSeq}`,
      message: `record ${expectedSeq} was moved to seq ${rightful.seq}`,
    };
  }
  // This record claims the same predecessor as the one before it: that one was slipped in.
  if (prevPrev !== null && r.prev_hash === prevPrev) {
    return {
      seq: expectedSeq - 1,
      reason: 'inserted',
      expected: `record ${expectedSeq - 1} to be followed by a record linking to it`,
      found: `record ${expectedSeq} links to record ${expectedSeq - 2}, skipping ${expectedSeq - 1}`,
      message: `record ${expectedSeq - 1} is not part of the original chain`,
    };
  }
  if (!selfOk && r.prev_hash === expectedPrev) {
    return {
      seq: expectedSeq,
      reason: 'edited',
      expected: `hash ${short(r.hash)}… (stored)`,
      found: `hash ${short(computed)}… over the stored fields`,
      message: `record ${expectedSeq} was changed after it was written`,
    };
  }
  if (!selfOk) {
    for (let k = 1; k <= RENUMBER_SEARCH; k++) {
      if (hashRecord({ ...fields, seq: expectedSeq + k }) === r.hash) {
        return {
          seq: expectedSeq,
          reason: 'removed',
          expected: `record ${expectedSeq}`,
          found: `the record written as ${expectedSeq + k}, renumbered to ${expectedSeq}`,
          message: `record ${expectedSeq}${k > 1 ? `-${expectedSeq + k - 1}` : ''} removed and later records renumbered`,
        };
      }
    }
  }
  if (selfOk && expectedSeq > 1) {
    // Hashes correctly but remembers a different predecessor: the predecessor was rewritten
    // with a recomputed hash.
    return {
      seq: expectedSeq - 1,
      reason: 'edited',
      expected: `hash ${short(r.prev_hash)}… (as record ${expectedSeq} remembers it)`,
      found: `hash ${short(expectedPrev)}…`,
      message: `record ${expectedSeq - 1} was rewritten with a recomputed hash`,
    };
  }
  return {
    seq: expectedSeq,
    reason: 'edited',
    expected: `prev_hash ${short(expectedPrev)}… and hash ${short(r.hash)}…`,
    found: `prev_hash ${short(r.prev_hash)}… and hash ${short(computed)}…`,
    message: `record ${expectedSeq} was changed after it was written`,
  };
}
