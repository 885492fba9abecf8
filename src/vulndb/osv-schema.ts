/**
 * The published OSV JSON schema (`schema/schema.json`, source in its README), compiled on first
 * use and then kept: compiling costs milliseconds, an import checks hundreds of thousands of
 * records.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

let validate: ValidateFunction | undefined;

function compiled(): ValidateFunction {
  if (validate) return validate;
  const schema = JSON.parse(readFileSync(new URL('./schema/schema.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  // Not strict: the schema carries annotation keywords ajv does not know. The first problem is
  // enough to refuse a record, and stopping there keeps refusals cheap.
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats.default(ajv);
  validate = ajv.compile(schema);
  return validate;
}

export interface SchemaProblem {
  /** The field in the notation of the other record checks: `affected[0].ranges[1].type`. */
  field: string;
  message: string;
}

/** `/affected/0/ranges/1` → `affected[0].ranges[1]`. */
function fieldOf(e: ErrorObject): string {
  const parts = e.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = e.params as { missingProperty?: string; additionalProperty?: string };
  const extra = params.missingProperty ?? params.additionalProperty;
  if (extra !== undefined) parts.push(extra);
  let field = '';
  for (const p of parts) field += /^\d+$/.test(p) ? `[${p}]` : field === '' ? p : `.${p}`;
  return field === '' ? '(record)' : field;
}

/** The first way `record` breaks the OSV schema, or undefined when it follows it. */
export function schemaProblem(record: unknown): SchemaProblem | undefined {
  const v = compiled();
  if (v(record)) return undefined;
  const e = v.errors?.[0];
  if (!e) return { field: '(record)', message: 'does not follow the OSV schema' };
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  const detail =
    e.keyword === 'pattern' ? 'does not match the pattern the OSV schema requires' : (e.message ?? e.keyword);
  return {
    field: fieldOf(e),
    message: `OSV schema: ${detail}${allowed ? ` (${allowed.slice(0, 10).map(String).join(', ')})` : ''}`,
  };
}
