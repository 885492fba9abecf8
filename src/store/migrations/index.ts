/**
 * Every migration, in order. Listed by hand rather than discovered by reading the directory
 * so that the set is fixed at import time and cannot depend on the working directory; a
 * test checks this list against the files next to it.
 */
import type { Migration } from '../migrate.ts';
import * as m0001 from './0001_initial.ts';
import * as m0002 from './0002_audit_log.ts';
import * as m0003 from './0003_promotion.ts';
import * as m0004 from './0004_retention.ts';
import * as m0005 from './0005_usage.ts';
import * as m0006 from './0006_operation_intents.ts';
import * as m0007 from './0007_vulndb.ts';
import * as m0008 from './0008_findings.ts';
import * as m0009 from './0009_login_sessions.ts';
import * as m0010 from './0010_layer_analysis.ts';

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: m0001.up },
  { version: 2, name: 'audit_log', up: m0002.up },
  { version: 3, name: 'promotion', up: m0003.up },
  { version: 4, name: 'retention', up: m0004.up },
  { version: 5, name: 'usage', up: m0005.up },
  { version: 6, name: 'operation_intents', up: m0006.up },
  { version: 7, name: 'vulndb', up: m0007.up },
  { version: 8, name: 'findings', up: m0008.up },
  { version: 9, name: 'login_sessions', up: m0009.up },
  { version: 10, name: 'layer_analysis', up: m0010.up },
];
