/**
 * The shape every version scheme shares, after Renovate's `lib/modules/versioning/`: one module
 * per scheme, each a plain object with an id, a validity test and a three-way comparison. The
 * comparison reproduces the ecosystem's own tool (dpkg, rpm, apk-tools, Maven, ...) bit for bit,
 * because a vulnerability matcher that orders `1.0~rc1` after `1.0` reports the wrong fix.
 */
import { SluiceError } from '../../errors.ts';

export type SchemeId = 'dpkg' | 'rpm' | 'apk' | 'semver' | 'pep440' | 'maven' | 'go' | 'rubygems' | 'nuget';

export type Ordering = -1 | 0 | 1;

export interface VersionScheme {
  readonly id: SchemeId;
  /** Whether the ecosystem's tool accepts `version` without error or warning. */
  isValid(version: string): boolean;
  /**
   * Orders two versions as the ecosystem's tool does.
   * @throws SluiceError `VERSION_INVALID` when either is not {@link isValid}.
   */
  compare(a: string, b: string): Ordering;
}

/**
 * Versions come from package databases and advisory feeds, both hostile input. No real version
 * in any ecosystem comes near this; the bound keeps the comparators' work and the error messages
 * small.
 */
export const MAX_VERSION_LENGTH = 256;

/** The error for a version a scheme refuses; `reason` says what is wrong with it. */
export function invalidVersion(scheme: SchemeId, version: string, reason: string): SluiceError {
  const shown = version.length > 80 ? `${version.slice(0, 80)}...` : version;
  return new SluiceError(
    'VERSION_INVALID',
    'invalid-input',
    `${JSON.stringify(shown)} is not a valid ${scheme} version: ${reason}`,
    { scheme, version: shown },
  );
}

export function sign(n: number): Ordering {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** What a scheme's parser returns for a version it refuses: the reason, for the error message. */
export class Invalid {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

/**
 * Builds a scheme from one parser, so that `isValid` and `compare` cannot disagree about what
 * is valid, and the length bound and error shape are the same in every scheme.
 */
export function defineScheme<P>(
  id: SchemeId,
  parse: (version: string) => P | Invalid,
  compareParsed: (a: P, b: P) => number,
): VersionScheme {
  const parseOrThrow = (version: string): P => {
    if (typeof version !== 'string') throw invalidVersion(id, String(version), 'not a string');
    if (version.length > MAX_VERSION_LENGTH) {
      throw invalidVersion(id, version, `longer than ${MAX_VERSION_LENGTH} characters`);
    }
    const parsed = parse(version);
    if (parsed instanceof Invalid) throw invalidVersion(id, version, parsed.reason);
    return parsed;
  };
  return {
    id,
    isValid(version: string): boolean {
      if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH) return false;
      return !(parse(version) instanceof Invalid);
    },
    compare(a: string, b: string): Ordering {
      return sign(compareParsed(parseOrThrow(a), parseOrThrow(b)));
    },
  };
}
