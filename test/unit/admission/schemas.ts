/**
 * Validators for the published schemas in test/fixtures (see the READMEs there for sources).
 *
 * CRD schemas are OpenAPI v3 with Kubernetes extensions: ajv runs with `strict: false` so the
 * `x-kubernetes-*` keywords are ignored, and the formats Kubernetes uses are defined (`byte` is
 * base64, `int32`/`int64` are ranges). The API server also prunes or, under
 * `fieldValidation: Strict` (kubectl's default), rejects fields a structural schema does not
 * declare; `closed()` reproduces that by adding `additionalProperties: false` to every object
 * schema that lists properties and does not preserve unknown fields, so a misspelt field fails
 * here as it would on `kubectl apply`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

const FIXTURES = new URL('../../fixtures/', import.meta.url);

type Schema = { [key: string]: unknown };

export function fixtureText(relative: string): string {
  const bytes = readFileSync(new URL(relative, FIXTURES));
  return (relative.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
}

/**
 * `spec.versions[name].schema.openAPIV3Schema` of a CRD fixture, with the fields every
 * object has whether the schema lists them or not (apiVersion, kind, metadata).
 */
export function crdSchema(relative: string, version: string): Schema {
  for (const doc of parseAllDocuments(fixtureText(relative))) {
    const crd = doc.toJS() as {
      kind?: string;
      spec?: { versions?: Array<{ name: string; schema?: { openAPIV3Schema?: Schema } }> };
    };
    if (crd.kind !== 'CustomResourceDefinition') continue;
    const v = crd.spec?.versions?.find((x) => x.name === version);
    const schema = v?.schema?.openAPIV3Schema;
    if (schema) {
      const properties = (schema.properties ?? {}) as Schema;
      return {
        ...schema,
        properties: {
          apiVersion: { type: 'string' },
          kind: { type: 'string' },
          metadata: { type: 'object' },
          ...properties,
        },
      };
    }
  }
  throw new Error(`${relative} has no CRD version ${version}`);
}

/** A copy of `schema` in which undeclared fields are errors (see the header). */
export function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    // Under these keys sit names of fields, not schemas.
    out[k] =
      k === 'properties' || k === 'patternProperties' || k === 'definitions' || k === '$defs'
        ? Object.fromEntries(Object.entries(v as Schema).map(([name, s]) => [name, closed(s)]))
        : closed(v);
  }
  if (
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

const INT32 = {
  type: 'number',
  validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
} as const;
const INT64 = { type: 'number', validate: (n: number) => Number.isSafeInteger(n) } as const;

export function compile(schema: unknown): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  addFormats.default(ajv);
  ajv.addFormat('byte', /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/);
  ajv.addFormat('int32', INT32);
  ajv.addFormat('int64', INT64);
  const copy = { ...(schema as Schema) };
  delete copy.$schema;
  return ajv.compile(copy);
}

/** Asserts that `value` is valid, printing ajv's errors when it is not. */
export function assertValid(validate: ValidateFunction, value: unknown, what: string): void {
  const ok = validate(value);
  assert.ok(ok, `${what} is invalid:\n${JSON.stringify(validate.errors, null, 2)}`);
}
