// Run by sla.test.ts under several TZ settings: prints due dates that span DST changes.
import { dueDate } from '../../../src/findings/sla.ts';

const H = 3_600_000;
const sla = {
  critical: 24 * H,
  high: 7 * 24 * H,
  medium: 30 * 24 * H,
  low: 'nextCycle',
  negligible: 'nextCycle',
  unknown: 1,
} as const;
const berlin = dueDate(Date.parse('2026-03-28T09:30:00Z'), 'critical', sla, { fallbackMs: 1 });
const newYork = dueDate(Date.parse('2026-11-01T05:30:00Z'), 'high', sla, { fallbackMs: 1 });
console.log(JSON.stringify([new Date(berlin.at).toISOString(), new Date(newYork.at).toISOString()]));
