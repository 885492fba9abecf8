/**
 * The `sluice.yaml` document: apiVersion, kind, metadata and the spec assembled from its sections.
 */
import { isMap } from 'yaml';
import {
  API_VERSION,
  DEFAULT_CATEGORIES,
  DEFAULT_REQUIRED_LABELS,
  POLICY_KIND,
  SUPPORTED_API_VERSIONS,
} from '../schema.ts';
import { array, object, oneOf, optional, record, required, string, uniqueArray, withDefault } from '../validate.ts';
import { admission } from './admission.ts';
import { audit } from './audit.ts';
import { catalog } from './catalog.ts';
import { changeManagement } from './change-management.ts';
import { category, evidenceType } from './evidence.ts';
import { identity } from './identity.ts';
import { naming } from './naming.ts';
import { notification } from './notifications.ts';
import { registriesCheck, registry } from './registries.ts';
import { labelKey, timeZone } from './scalars.ts';
import { server } from './server.ts';
import { type StageValue, stage, stagesCheck } from './stages.ts';
import { team } from './teams.ts';
import { vulnerabilities } from './vulnerabilities.ts';

const metadata = object({
  name: withDefault(
    string({
      expected: 'a name (lowercase letters, digits, "-" and ".")',
      pattern: /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/,
    }),
    'default',
  ),
  labels: withDefault(record(labelKey, string({ expected: 'a string (quote numbers and booleans)' })), {}),
  annotations: withDefault(record(labelKey, string({ expected: 'a string (quote numbers and booleans)' })), {}),
});

const spec = object(
  {
    timeZone: withDefault(timeZone, 'UTC'),
    registries: required(array(registry, { min: 1, check: registriesCheck })),
    teams: withDefault(array(team), []),
    categories: withDefault(
      array(category, { min: 1 }),
      DEFAULT_CATEGORIES.map((c) => ({ name: c })),
    ),
    evidenceTypes: withDefault(array(evidenceType), []),
    stages: required(array(stage, { min: 1, check: stagesCheck })),
    vulnerabilities: withDefault(vulnerabilities, {}),
    naming: withDefault(naming, {}),
    requiredLabels: withDefault(uniqueArray(labelKey, 'label'), DEFAULT_REQUIRED_LABELS),
    notifications: withDefault(array(notification), []),
    changeManagement: optional(changeManagement),
    catalog: withDefault(catalog, {}),
    server: withDefault(server, {}),
    audit: withDefault(audit, {}),
    admission: withDefault(admission, {}),
    identity: withDefault(identity, {}),
  },
  {
    hints: {
      database: 'the database is configured by the SLUICE_DATABASE_URL environment variable, not in the policy file',
      stage: 'stages are a list: `stages: [{ name: dev, ... }]`',
      registry: 'registries are a list: `registries: [{ name: ..., url: ..., kind: ... }]`',
    },
  },
);

export const policyDocument = object(
  {
    apiVersion: required(oneOf(SUPPORTED_API_VERSIONS, { expected: `apiVersion ${API_VERSION}` })),
    kind: required(oneOf([POLICY_KIND] as const, { expected: `kind ${POLICY_KIND}` })),
    metadata: withDefault(metadata, {}),
    spec: required(spec),
  },
  { hints: { status: '`status` is reported by Sluice, not read from the file' } },
);

export type RawPolicy = Exclude<ReturnType<typeof policyDocument>, symbol>;

export type RawStage = StageValue;

/** Whether a node looks like a document of some kind (for multi-document files). */
export function kindOf(node: unknown): string | undefined {
  if (!isMap(node)) return undefined;
  const k = node.get('kind');
  return typeof k === 'string' ? k : undefined;
}
