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

/** What the notification channels show for an event: one line about one subject. */
export interface Notice {
  subject: string;
  summary: string;
  /** JSON-serialisable details, never secrets. */
  data: Record<string, unknown>;
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
  // Promotion's outcomes carry their details in `data`, as the notification channels show them.
  'promotion.succeeded': Notice;
  'promotion.failed': Notice;
  'gate.failed': Notice;
  'rollback.succeeded': Notice;
  'promotion.refused': ImageLocation & { stage: string; code: string; reason: string; actor: string };
  'hold.placed': ImageLocation & { kind: string; reason: string; actor: string };
  'hold.released': ImageLocation & { kind: string; reason: string; actor: string };
  /** Images of a repository were marked for deletion after a notice period. */
  'retention.notice': Notice & { repository: string; team: string | null; items: number };
  /** A retention plan was applied and deleted something. */
  'retention.applied': Notice & { fingerprint: string; deleted: number; failed: number };
  /** Something broke a governance rule (a version tag moved outside Sluice, ...). */
  'compliance.violation': Notice;
}
