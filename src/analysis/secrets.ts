/**
 * Secret detection over text. A finding carries the rule, where it was and a fingerprint (a
 * keyed-free SHA-256 of rule and value, truncated): enough to tell two findings apart or see the
 * same secret again in another image, never enough to recover the value.
 */
import { createHash } from 'node:crypto';

export interface SecretRule {
  id: string;
  description: string;
  pattern: RegExp;
  /** Capture group holding the secret value (0: the whole match). */
  group?: number;
  /** Minimum Shannon entropy (bits per character) of the value, for the generic rules. */
  minEntropy?: number;
}

export interface SecretFinding {
  rule: string;
  /** Where: `layer` for a file, `config.env` / `config.history` for the image config. */
  source: 'layer' | 'config.env' | 'config.history';
  layerDigest?: string;
  layerIndex?: number;
  path?: string;
  line: number;
  fingerprint: string;
}

/**
 * Well-known token shapes, after the patterns of secretlint's recommended preset and the
 * providers' own documentation. Kept as a table because the preset is not a dependency here.
 */
export const SECRET_RULES: readonly SecretRule[] = [
  {
    id: 'aws-access-key-id',
    description: 'AWS access key id',
    pattern: /\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b/,
    group: 1,
  },
  {
    id: 'aws-secret-access-key',
    description: 'AWS secret access key assignment',
    pattern: /aws_?secret_?access_?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})\b/i,
    group: 1,
  },
  {
    id: 'private-key',
    description: 'PEM private key',
    pattern: /-----BEGIN ((?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----/,
  },
  {
    id: 'github-token',
    description: 'GitHub token',
    pattern: /\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b/,
    group: 1,
  },
  {
    id: 'github-fine-grained-token',
    description: 'GitHub fine-grained token',
    pattern: /\b(github_pat_[A-Za-z0-9_]{82})\b/,
    group: 1,
  },
  {
    id: 'gitlab-token',
    description: 'GitLab personal access token',
    pattern: /\b(glpat-[A-Za-z0-9_-]{20,})\b/,
    group: 1,
  },
  { id: 'slack-token', description: 'Slack token', pattern: /\b(xox[abposr]-[A-Za-z0-9-]{10,})\b/, group: 1 },
  {
    id: 'slack-webhook',
    description: 'Slack incoming webhook',
    pattern: /(https:\/\/hooks\.slack\.com\/services\/[A-Z0-9]+\/[A-Z0-9]+\/[A-Za-z0-9]+)/,
    group: 1,
  },
  { id: 'npm-token', description: 'npm access token', pattern: /\b(npm_[A-Za-z0-9]{36})\b/, group: 1 },
  { id: 'npmrc-auth', description: '.npmrc auth token', pattern: /_auth(?:Token)?\s*=\s*["']?([^\s"']{8,})/, group: 1 },
  {
    id: 'docker-config-auth',
    description: 'registry credentials in a Docker config.json',
    pattern: /"auth"\s*:\s*"([A-Za-z0-9+/=]{8,})"/,
    group: 1,
  },
  {
    id: 'basic-auth-url',
    description: 'credentials in a URL (.git-credentials and the like)',
    pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:([^\s:/@]{3,})@[^\s/]+/i,
    group: 1,
  },
  {
    id: 'generic-secret-assignment',
    description: 'high-entropy value assigned to a secret-looking name',
    pattern:
      /\b[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api_?key|access_?key|private_?key)[A-Za-z0-9_.-]*["']?\s*[:=]\s*["']?([A-Za-z0-9+/=_\-.!@#$%^&*]{16,})["']?/i,
    group: 1,
    minEntropy: 3.5,
  },
];

export function shannonEntropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function fingerprintOf(rule: string, value: string): string {
  return `sha256:${createHash('sha256').update(`${rule}\0${value}`).digest('hex').slice(0, 32)}`;
}

/** Longest line examined; longer lines (minified code, data) are cut so a regex never runs unbounded. */
const MAX_LINE_CHARS = 4096;

export interface SecretHit {
  rule: string;
  line: number;
  fingerprint: string;
}

/** Finds secrets in text, one finding per rule and line. */
export function scanText(text: string, rules: readonly SecretRule[] = SECRET_RULES): SecretHit[] {
  const hits: SecretHit[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.length > MAX_LINE_CHARS ? lines[i]!.slice(0, MAX_LINE_CHARS) : lines[i]!;
    for (const rule of rules) {
      const m = rule.pattern.exec(line);
      if (!m) continue;
      const value = m[rule.group ?? 0] ?? m[0];
      if (rule.minEntropy !== undefined && shannonEntropy(value) < rule.minEntropy) continue;
      // The private key's header is not secret; the key is: fingerprint the block that follows.
      const secret = rule.id === 'private-key' ? lines.slice(i, i + 64).join('\n') : value;
      hits.push({ rule: rule.id, line: i + 1, fingerprint: fingerprintOf(rule.id, secret) });
    }
  }
  return hits;
}

/** A buffer that looks like text: no NUL byte in its first 8 KiB. */
export function looksLikeText(content: Buffer): boolean {
  return !content.subarray(0, 8192).includes(0);
}
