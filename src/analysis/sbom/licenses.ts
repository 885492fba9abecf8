import spdxSchema from './schemas/spdx.schema.json' with { type: 'json' };
import type { LicenseChoice } from './model.ts';

let known: Map<string, string> | undefined;

/** SPDX licence ids by lower-cased id (package metadata spells them loosely: `mit`, `Apache-2.0`). */
function spdxIds(): Map<string, string> {
  known ??= new Map((spdxSchema as { enum: string[] }).enum.map((id) => [id.toLowerCase(), id]));
  return known;
}

/** An SPDX licence id when the package's licence string is exactly one, its text otherwise. */
export function licenseChoice(license: string): LicenseChoice {
  const id = spdxIds().get(license.trim().toLowerCase());
  return id ? { id } : { name: license.slice(0, 1000) };
}
