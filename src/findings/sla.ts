/**
 * Remediation clocks: when a finding is due, and where it stands now. Pure functions over
 * data; the store and the scheduler bring the inputs.
 *
 * SLA durations are elapsed time, not calendar time: `24h` is 86,400 seconds after the
 * finding was first seen, whatever the time zone or a daylight-saving change in between, so
 * every replica and every report computes the same instant.
 */
import type { Severity, SlaTarget } from '../policy/index.ts';

export type SlaBasis = 'policy' | 'next-rebuild' | 'rebuild-cadence' | 'fallback';

export interface Due {
  /** Epoch ms. */
  at: number;
  basis: SlaBasis;
  /** Why this basis, for `findings show` when it is not the plain policy duration. */
  note?: string;
}

export interface NextCycle {
  /** The next scheduled rebuild of the image, when its build schedule is known. */
  nextRebuildAt?: number;
  /** The catalog's rebuild cadence for the image, when it has one. */
  rebuildCadenceMs?: number;
  /** Used when neither is known. */
  fallbackMs: number;
}

export function dueDate(
  firstSeen: number,
  severity: Severity,
  sla: Record<Severity, SlaTarget>,
  cycle: NextCycle,
): Due {
  const target = sla[severity];
  if (target !== 'nextCycle') return { at: firstSeen + target, basis: 'policy' };
  // A rebuild scheduled before the finding appeared does not fix it: the next one after does.
  if (cycle.nextRebuildAt !== undefined && cycle.nextRebuildAt >= firstSeen) {
    return { at: cycle.nextRebuildAt, basis: 'next-rebuild' };
  }
  if (cycle.rebuildCadenceMs !== undefined && cycle.rebuildCadenceMs > 0) {
    return { at: firstSeen + cycle.rebuildCadenceMs, basis: 'rebuild-cadence' };
  }
  return {
    at: firstSeen + cycle.fallbackMs,
    basis: 'fallback',
    note: 'no rebuild schedule or cadence is known for this image; the policy fallback applies',
  };
}

export type ClockState = 'on-track' | 'due-soon' | 'breached' | 'waived' | 'closed';

export interface ClockInput {
  due: number;
  /** Open findings run a clock; fixed and not-affected ones are closed. */
  state: 'open' | 'fixed' | 'not-affected';
  /** Expiry of the valid waiver covering it, if any. */
  waivedUntil?: number;
}

/**
 * Where a finding's clock stands at `now`. A waiver stops the clock from counting against the
 * team only while it is valid; when it lapses the original due date applies again (a waiver
 * buys time for a decision, it does not move the deadline).
 */
export function clockState(input: ClockInput, now: number, dueSoonMs: number): ClockState {
  if (input.state !== 'open') return 'closed';
  if (input.waivedUntil !== undefined && input.waivedUntil > now) return 'waived';
  if (now >= input.due) return 'breached';
  if (input.due - now <= dueSoonMs) return 'due-soon';
  return 'on-track';
}

/** True when an open, unwaived finding falls due within `windowMs` from now (or is overdue). */
export function dueWithin(input: ClockInput, now: number, windowMs: number): boolean {
  const state = clockState(input, now, windowMs);
  return state === 'breached' || state === 'due-soon';
}
