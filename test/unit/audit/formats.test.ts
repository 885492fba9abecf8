import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cefExtensionEscape, cefHeaderEscape, formatCef, formatJsonl } from '../../../src/audit/export.ts';
import { GENESIS_HASH } from '../../../src/audit/record.ts';
import type { AuditRecord } from '../../../src/audit/record.ts';
import { formatSyslog, frameOctetCounting, sdEscape } from '../../../src/audit/syslog.ts';

const record: AuditRecord = {
  seq: 42,
  time: '2025-03-01T12:00:00.005Z',
  actor: 'alice',
  action: 'tag.delete',
  repository: 'quay.example/team-dev/app',
  digest: `sha256:${'a'.repeat(64)}`,
  tag: '1.0.0-1',
  reason: 'retention: a=b | c\\d\nnext line',
  result: 'denied',
  details: { rule: 'keep-last-10' },
  prevHash: GENESIS_HASH,
  hash: 'b'.repeat(64),
};

/** Splits a CEF line into its 7 header fields and the extension, honouring escapes. */
function parseCef(line: string): { header: string[]; ext: Record<string, string> } {
  const header: string[] = [];
  let cur = '';
  let i = 0;
  for (; i < line.length && header.length < 7; i++) {
    const c = line[i]!;
    if (c === '\\') {
      cur += line[++i];
    } else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  const rest = line.slice(i);
  const ext: Record<string, string> = {};
  // key=value pairs; a value runs until the next unescaped " key=".
  const re = /(?:^| )([A-Za-z0-9]+)=((?:\\.|[^\\])*?)(?= [A-Za-z0-9]+=|$)/g;
  for (const m of rest.matchAll(re)) {
    ext[m[1]!] = m[2]!.replace(/\\(.)/g, (_s, ch: string) => (ch === 'n' ? '\n' : ch === 'r' ? '\r' : ch));
  }
  return { header, ext };
}

describe('CEF', () => {
  it('escapes pipes and backslashes in the header and flattens line breaks', () => {
    assert.equal(cefHeaderEscape('a|b\\c\nd\r\ne'), 'a\\|b\\\\c d e');
  });

  it('escapes backslash and equals in extension values and encodes line breaks', () => {
    assert.equal(cefExtensionEscape('a=b\\c|d\ne\rf\r\ng'), 'a\\=b\\\\c|d\\ne\\rf\\ng');
  });

  it('writes the documented header and extension fields', () => {
    const line = formatCef({ ...record, action: 'tag|delete' }, '1.2.3');
    assert.ok(line.startsWith('CEF:0|Sluice|sluice|1.2.3|tag\\|delete|tag\\|delete denied|8|'), line);
    assert.ok(!line.includes('\n'));
    const { header, ext } = parseCef(line);
    assert.deepEqual(header, ['CEF:0', 'Sluice', 'sluice', '1.2.3', 'tag|delete', 'tag|delete denied', '8']);
    assert.equal(ext.rt, String(Date.parse(record.time)));
    assert.equal(ext.externalId, '42');
    assert.equal(ext.suser, 'alice');
    assert.equal(ext.outcome, 'denied');
    assert.equal(ext.reason, record.reason);
    assert.equal(ext.cs1Label, 'repository');
    assert.equal(ext.cs1, record.repository);
    assert.equal(ext.cs2, record.digest);
    assert.equal(ext.cs4, record.hash);
    assert.deepEqual(JSON.parse(ext.cs6!), record.details);
  });

  it('leaves out absent fields together with their labels', () => {
    const { ext } = parseCef(formatCef({ ...record, repository: null, tag: null, reason: null }, '1'));
    assert.equal(ext.cs1, undefined);
    assert.equal(ext.cs1Label, undefined);
    assert.equal(ext.cs3Label, undefined);
    assert.equal(ext.reason, undefined);
    assert.equal(ext.cs2Label, 'digest');
  });

  it('round-trips any actor and reason through escaping', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ minLength: 1, maxLength: 40 }), (actor, reason) => {
        // Leading/trailing spaces are not preserved by CEF consumers; the escape is about structure.
        fc.pre(actor === actor.trim() && actor !== '' && reason === reason.trim() && reason !== '');
        fc.pre(!/\r/.test(actor + reason));
        const { ext } = parseCef(formatCef({ ...record, actor, reason }, '1'));
        assert.equal(ext.suser, actor);
        assert.equal(ext.reason, reason);
      }),
    );
  });
});

describe('JSON Lines', () => {
  it('is one line carrying every field', () => {
    const line = formatJsonl({ ...record, reason: 'a\nb' });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), { ...record, reason: 'a\nb' });
  });

  it('escapes the Unicode line separators that line readers split on', () => {
    const line = formatJsonl({ ...record, reason: 'a\u2028b\u2029c' });
    assert.ok(!/[\u2028\u2029]/.test(line));
    assert.equal((JSON.parse(line) as AuditRecord).reason, 'a\u2028b\u2029c');
  });
});

/** Parses the RFC 5424 parts this module writes. */
function parseSyslog(msg: string): {
  pri: number;
  header: string[];
  sd: Record<string, string>;
  sdId: string;
  text: string;
} {
  const m = /^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) \[(\S+)((?: [^=\s]+="(?:\\.|[^"\\])*")*)\] \uFEFF([\s\S]*)$/.exec(
    msg,
  );
  assert.ok(m, `not RFC 5424: ${msg}`);
  const sd: Record<string, string> = {};
  for (const p of m[8]!.matchAll(/ ([^=\s]+)="((?:\\.|[^"\\])*)"/g)) sd[p[1]!] = p[2]!.replace(/\\(["\\\]])/g, '$1');
  return { pri: Number(m[1]), header: m.slice(2, 7), sdId: m[7]!, sd, text: m[9]! };
}

describe('syslog', () => {
  it('escapes quote, backslash and closing bracket in SD values', () => {
    assert.equal(sdEscape('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  });

  it('formats an RFC 5424 message with the audit fields as structured data', () => {
    const tricky = { ...record, actor: 'eve "the" [admin]\\', result: 'failure' as const };
    const msg = formatSyslog(tricky, { hostname: 'host 1', appName: 'sluice', procId: '99' });
    const p = parseSyslog(msg);
    assert.equal(p.pri, 13 * 8 + 3);
    assert.deepEqual(p.header, [record.time, 'host1', 'sluice', '99', 'tag.delete']);
    assert.equal(p.sdId, 'sluiceAudit@32473');
    assert.equal(p.sd.actor, tricky.actor);
    assert.equal(p.sd.seq, '42');
    assert.equal(p.sd.digest, record.digest);
    assert.equal(p.sd.hash, record.hash);
    assert.equal(p.sd.reason, record.reason);
    assert.match(
      p.text,
      /^eve "the" \[admin\]\\ tag\.delete quay\.example\/team-dev\/app:1\.0\.0-1@sha256:a+ failure: retention/,
    );
  });

  it('frames by octet count in bytes, not characters', () => {
    const frame = frameOctetCounting('ünïcode');
    assert.equal(frame.toString('utf8'), `${Buffer.byteLength('ünïcode')} ünïcode`);
    assert.equal(Buffer.byteLength('ünïcode'), 9);
  });
});
