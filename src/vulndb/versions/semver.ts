/**
 * SemVer 2.0.0 (npm, crates.io, and OSV's `SEMVER` range type), through the `semver` package
 * that npm itself uses, so the order is npm's. Strict: no leading `v` or `=`, no surrounding
 * white space (node-semver tolerates both; OSV and the registries do not publish them). Build
 * metadata is parsed and ignored, as SemVer §10 demands: `1.0.0+a` equals `1.0.0+b`.
 */
import { SemVer } from 'semver';
import { defineScheme, Invalid, type VersionScheme } from './scheme.ts';

export function parseSemver(version: string): SemVer | Invalid {
  if (version !== version.trim()) return new Invalid('surrounding white space');
  if (!/^[0-9]/.test(version)) return new Invalid('must start with a digit (no "v" prefix)');
  try {
    return new SemVer(version, { loose: false });
  } catch (err) {
    return new Invalid(err instanceof Error ? err.message : 'not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]');
  }
}

export const semver: VersionScheme = defineScheme('semver', parseSemver, (a, b) => a.compare(b));
