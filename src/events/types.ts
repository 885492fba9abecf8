/**
 * The lifecycle events capabilities publish, by name. A payload says what happened in the
 * domain's words and carries identifiers, never secrets: subscribers load what else they need.
 * New capabilities add their events here (`finding.opened` for vulnerabilities, ...).
 */

/** Where an image lives: the policy registry's name, the repository and the manifest digest. */
export interface ImageLocation {
  registry: string;
  repository: string;
  digest: string;
}

export interface LifecycleEvents {
  /** Evidence (a test result, a scan, an approval) was stored for an image. */
  'evidence.recorded': ImageLocation & {
    type: string;
    status: 'passed' | 'failed';
    /** The stage the evidence is for, when it names one. */
    stage: string | null;
    actor: string;
    /** The recorder asked for promotion to follow when the gate is now satisfied. */
    autoPromote: boolean;
  };
  /** Tags moved in a registry, seen by inventory sync or a registry webhook. */
  'tags.changed': {
    registry: string;
    /** The registry's host[:port], as image references name it. */
    host: string;
    repository: string;
    tag: string;
    change: string;
    digest: string;
    previous: string | null;
  };
  'promotion.succeeded': ImageLocation & { stage: string; target: string; versionTag: string; actor: string };
  'promotion.failed': ImageLocation & { stage: string; reason: string; actor: string };
  'promotion.refused': ImageLocation & { stage: string; code: string; reason: string; actor: string };
  'hold.placed': ImageLocation & { kind: string; reason: string; actor: string };
  'hold.released': ImageLocation & { kind: string; reason: string; actor: string };
  'retention.applied': { registry: string; deleted: number; failed: number; actor: string };
  'compliance.violation': {
    subject: string;
    summary: string;
    data: Record<string, unknown>;
  };
}
