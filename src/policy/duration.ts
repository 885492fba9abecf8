/**
 * Durations as people write them in configuration: `90s`, `15m`, `24h`, `7d`, `2y`, or a
 * compound such as `1h30m`. A year is 365 days and a week 7 days: retention periods are
 * counted in days, so calendar-aware months and leap years would only make "2y" vary.
 */
import { SluiceError } from '../errors.ts';

const UNITS = [
  ['y', 365 * 24 * 3_600_000],
  ['w', 7 * 24 * 3_600_000],
  ['d', 24 * 3_600_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
  ['ms', 1],
] as const;

const UNIT_MS = new Map<string, number>(UNITS);
const UNIT_RANK = new Map<string, number>(UNITS.map(([u], i) => [u, i]));
/** Longer than any sensible retention; keeps the sum far inside Number.MAX_SAFE_INTEGER. */
const MAX_MS = 1000 * 365 * 24 * 3_600_000;

export const DURATION_EXAMPLES = '30s, 15m, 24h, 7d, 2y or 1h30m';

function invalid(text: string, why: string): SluiceError {
  return new SluiceError('DURATION_INVALID', 'invalid-input', `invalid duration "${text}": ${why}`, {
    value: text,
    reason: why,
  });
}

/** Parses a duration string to milliseconds. Throws DURATION_INVALID saying why. */
export function parseDuration(text: string): number {
  const input = text.trim();
  if (input === '') throw invalid(text, `empty; expected e.g. ${DURATION_EXAMPLES}`);
  if (input.startsWith('-')) throw invalid(text, 'durations cannot be negative');
  if (/^\d+(\.\d+)?$/.test(input)) {
    throw invalid(text, `a unit is required (a bare number is ambiguous); expected e.g. ${DURATION_EXAMPLES}`);
  }
  if (/\d\.\d/.test(input)) throw invalid(text, 'fractions are not supported; write e.g. 1h30m instead of 1.5h');
  const re = /(\d+)(ms|[smhdwy])/gy;
  let total = 0;
  let lastRank = -1;
  let consumed = 0;
  for (let m = re.exec(input); m !== null; m = re.exec(input)) {
    const unit = m[2]!;
    const rank = UNIT_RANK.get(unit)!;
    if (rank <= lastRank) throw invalid(text, 'units must appear once each, largest first (e.g. 1d12h)');
    lastRank = rank;
    total += Number(m[1]) * UNIT_MS.get(unit)!;
    consumed = re.lastIndex;
  }
  if (consumed !== input.length) {
    throw invalid(text, `expected a number followed by a unit (ms, s, m, h, d, w, y), e.g. ${DURATION_EXAMPLES}`);
  }
  if (total > MAX_MS) throw invalid(text, 'longer than 1000 years');
  return total;
}

/**
 * Formats milliseconds as the shortest exact duration string (`2y`, `90d`, `1h30m`).
 * Weeks are never produced: `7d` is what the defaults and the documentation say.
 */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`formatDuration: not a non-negative integer: ${ms}`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of UNITS) {
    if (unit === 'w') continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
