/**
 * Standard 5-field cron (minute hour day-of-month month day-of-week) with lists, ranges,
 * steps, month and weekday names and the usual `@daily`-style macros, evaluated in an IANA
 * time zone through `Intl.DateTimeFormat` (no time-zone database of our own).
 *
 * Day-of-month and day-of-week follow Vixie cron: when both are restricted (neither starts
 * with `*`), a day matches if either does.
 *
 * Daylight-saving transitions: schedules are wall-clock times. A wall time skipped by a
 * spring-forward jump fires at the same offset after the jump (02:30 → 03:30), as
 * Temporal's "compatible" disambiguation does; a wall time that occurs twice after a
 * fall-back fires once, at its first occurrence. So a maintenance window is never silently
 * lost and never opened twice.
 */
import { SluiceError } from '../errors.ts';

export interface CronSchedule {
  /** The expression as written. */
  readonly source: string;
  /** Index = value; true when the field selects it. */
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Index 1..31. */
  readonly daysOfMonth: readonly boolean[];
  /** Index 1..12. */
  readonly months: readonly boolean[];
  /** Index 0..6, Sunday = 0 (7 is accepted as Sunday too). */
  readonly daysOfWeek: readonly boolean[];
  readonly domRestricted: boolean;
  readonly dowRestricted: boolean;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Far enough for any valid expression (Feb 29 on a given weekday recurs within 28 years). */
const HORIZON = 30 * 366 * DAY;

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES, namesBase: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, namesBase: 0 },
];

function invalid(source: string, why: string): SluiceError {
  return new SluiceError('CRON_INVALID', 'invalid-input', `invalid cron expression "${source}": ${why}`, {
    value: source,
    reason: why,
  });
}

function parseValue(source: string, spec: FieldSpec, text: string): number {
  if (spec.names) {
    const i = spec.names.indexOf(text.toLowerCase());
    if (i >= 0) return i + spec.namesBase!;
  }
  if (!/^\d+$/.test(text)) {
    const names = spec.names ? ` or a name (${spec.names.join(', ')})` : '';
    throw invalid(source, `${spec.name} field: "${text}" is not a number${names}`);
  }
  const n = Number(text);
  if (n < spec.min || n > spec.max) {
    throw invalid(source, `${spec.name} field: ${n} is out of range ${spec.min}-${spec.max}`);
  }
  return n;
}

function parseField(source: string, spec: FieldSpec, text: string): boolean[] {
  const set = new Array<boolean>(spec.max + 1).fill(false);
  for (const part of text.split(',')) {
    if (part === '') throw invalid(source, `${spec.name} field: empty list element in "${text}"`);
    const [rangeText, stepText, extra] = part.split('/');
    if (extra !== undefined) throw invalid(source, `${spec.name} field: "${part}" has more than one "/"`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw invalid(source, `${spec.name} field: step "${stepText}" must be a positive number`);
      }
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (rangeText === '*') {
      lo = spec.min;
      hi = spec.max === 7 ? 6 : spec.max;
    } else {
      const dash = rangeText!.indexOf('-');
      if (dash >= 0) {
        lo = parseValue(source, spec, rangeText!.slice(0, dash));
        hi = parseValue(source, spec, rangeText!.slice(dash + 1));
        if (lo > hi) throw invalid(source, `${spec.name} field: range "${rangeText}" runs backwards`);
      } else {
        lo = parseValue(source, spec, rangeText!);
        // `5/15` means "from 5, every 15", as most crons read it.
        hi = stepText !== undefined ? (spec.max === 7 ? 6 : spec.max) : lo;
      }
    }
    for (let v = lo; v <= hi; v += step) set[v] = true;
  }
  return set;
}

/** Parses a 5-field cron expression or macro. Throws CRON_INVALID naming the field at fault. */
export function parseCron(text: string): CronSchedule {
  const source = text.trim();
  let expr = source;
  if (expr.startsWith('@')) {
    const name = expr.toLowerCase();
    const macro = Object.hasOwn(MACROS, name) ? MACROS[name] : undefined;
    if (!macro) throw invalid(source, `unknown macro; expected one of ${Object.keys(MACROS).join(', ')}`);
    expr = macro;
  }
  const fields = expr.split(/\s+/).filter((f) => f !== '');
  if (fields.length !== 5) {
    throw invalid(
      source,
      `expected 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}` +
        (fields.length === 6 ? '; seconds are not supported' : ''),
    );
  }
  const [min, hour, dom, mon, dow] = fields.map((f, i) => parseField(source, FIELDS[i]!, f));
  if (dow![7]) dow![0] = true;
  const cron: CronSchedule = {
    source,
    minutes: min!,
    hours: hour!,
    daysOfMonth: dom!,
    months: mon!,
    daysOfWeek: dow!.slice(0, 7),
    domRestricted: !fields[2]!.startsWith('*'),
    dowRestricted: !fields[4]!.startsWith('*'),
  };
  if (cron.domRestricted && !cron.dowRestricted) {
    const possible = cron.months.some(
      (on, m) => on && cron.daysOfMonth.some((d, day) => d && day <= DAYS_IN_MONTH[m]!),
    );
    if (!possible) throw invalid(source, 'never runs: no selected month has the selected day of month');
  }
  return cron;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new SluiceError('TIME_ZONE_INVALID', 'invalid-input', `unknown time zone "${timeZone}"`, {
        value: timeZone,
      });
    }
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === '') return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** IANA zone names, for "did you mean" suggestions. */
export function knownTimeZones(): string[] {
  return ['UTC', ...Intl.supportedValuesOf('timeZone')];
}

/** The wall-clock time of an instant in a zone, encoded as if it were a UTC timestamp. */
function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(instant))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour! % 24, parts.minute!, parts.second!);
}

function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
}

/** The instant a wall-clock time denotes: earliest if ambiguous, shifted past the gap if skipped. */
function instantOf(wall: number, timeZone: string): number {
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const candidates = [...new Set([before, after])]
    .map((o) => wall - o)
    .filter((t) => offsetAt(t, timeZone) === wall - t)
    .sort((a, b) => a - b);
  return candidates[0] ?? wall - before;
}

function dayMatches(cron: CronSchedule, date: Date): boolean {
  const dom = cron.daysOfMonth[date.getUTCDate()]!;
  const dow = cron.daysOfWeek[date.getUTCDay()]!;
  return cron.domRestricted && cron.dowRestricted ? dom || dow : dom && dow;
}

/** The first matching wall-clock minute at or after `wall`, or undefined past `limit`. */
function nextWallMatch(cron: CronSchedule, wall: number, limit: number): number | undefined {
  let t = wall;
  while (t <= limit) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const day = d.getUTCDate();
    const h = d.getUTCHours();
    const mi = d.getUTCMinutes();
    if (!cron.months[mo + 1]) t = Date.UTC(y, mo + 1, 1);
    else if (!dayMatches(cron, d)) t = Date.UTC(y, mo, day + 1);
    else if (!cron.hours[h]) t = Date.UTC(y, mo, day, h + 1);
    else if (!cron.minutes[mi]) t = Date.UTC(y, mo, day, h, mi + 1);
    else return t;
  }
  return undefined;
}

/** The first time strictly after `from` at which the schedule fires in `timeZone` (default UTC). */
export function nextRun(cron: string | CronSchedule, from: Date, timeZone = 'UTC'): Date {
  const schedule = typeof cron === 'string' ? parseCron(cron) : cron;
  const fromMs = from.getTime();
  if (Number.isNaN(fromMs)) throw new RangeError('nextRun: invalid start date');
  const startWall = Math.floor(wallClock(fromMs, timeZone) / MINUTE) * MINUTE + MINUTE;
  const limit = startWall + HORIZON;
  let wall = startWall;
  for (;;) {
    const match = nextWallMatch(schedule, wall, limit);
    if (match === undefined) throw invalid(schedule.source, 'never runs');
    const instant = instantOf(match, timeZone);
    if (instant > fromMs) return new Date(instant);
    // Only the second occurrence of a repeated wall time lands here: it already fired.
    wall = match + MINUTE;
  }
}

export interface ScheduledWindow {
  cron: string;
  /** Milliseconds. */
  duration: number;
  timeZone: string;
}

/** The window occurrence containing `at` (start ≤ at < end), if any. */
export function activeWindow(window: ScheduledWindow, at: Date): { start: Date; end: Date } | undefined {
  const start = nextRun(window.cron, new Date(at.getTime() - window.duration), window.timeZone);
  if (start.getTime() > at.getTime()) return undefined;
  return { start, end: new Date(start.getTime() + window.duration) };
}
