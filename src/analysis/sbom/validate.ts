/**
 * Validation against the published schemas in `schemas/` (see its README for their sources),
 * loaded and compiled on first use: the CycloneDX schema is 260 KB.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const SCHEMAS = new URL('./schemas/', import.meta.url);

function load(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(name, SCHEMAS), 'utf8')) as Record<string, unknown>;
}

let cyclonedx: ValidateFunction | undefined;
let spdx: ValidateFunction | undefined;

function compile(schema: string, references: string[]): ValidateFunction {
  // Not strict: the CycloneDX schema carries its own annotation keywords (`meta:enum`).
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const reference of references) ajv.addSchema(load(reference));
  return ajv.compile(load(schema));
}

export interface SchemaResult {
  valid: boolean;
  /** `instancePath: message` for each problem, for error messages and test output. */
  errors: string[];
}

function result(validate: ValidateFunction, doc: unknown): SchemaResult {
  const valid = validate(doc);
  return { valid, errors: (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}`) };
}

export function validateCycloneDx(doc: unknown): SchemaResult {
  cyclonedx ??= compile('bom-1.6.schema.json', ['spdx.schema.json', 'jsf-0.82.schema.json']);
  return result(cyclonedx, doc);
}

export function validateSpdx(doc: unknown): SchemaResult {
  spdx ??= compile('spdx-2.3.schema.json', []);
  return result(spdx, doc);
}
