/**
 * Reading `sluice.yaml`: YAML syntax, then the document schema, then cross-references, all
 * problems collected in one pass and reported together with `file:line:column`.
 *
 * A file holds one LifecyclePolicy. It may also be one of several `---` documents, or an
 * item of a `kind: List`, as Kubernetes tooling produces; other kinds are reported.
 */
import { dirname } from 'node:path';
import { LineCounter, isMap, isSeq, parseAllDocuments, type Document, type Node as YNode, type YAMLError } from 'yaml';
import { SluiceError } from '../errors.ts';
import { readInputText } from '../files.ts';
import { formatProblem, type Problem } from './problems.ts';
import { resolvePolicy } from './resolve.ts';
import { BUILTIN_EVIDENCE_NAMES, DEFAULT_POLICY_FILE, POLICY_KIND, type LifecyclePolicy } from './schema.ts';
import { kindOf, policyDocument } from './spec/index.ts';
import {
  Ctx,
  INVALID,
  MAX_DEPTH,
  MAX_PROBLEMS,
  checkAliasExpansion,
  deref,
  excessiveNesting,
  joinPath,
} from './validate.ts';

/** A policy is a page or two of YAML; anything far larger is not one. */
export const MAX_POLICY_BYTES = 1024 * 1024;

export interface ValidationResult {
  ok: boolean;
  problems: Problem[];
  /** Present when ok. */
  policy?: LifecyclePolicy;
}

export interface ParseOptions {
  /** Where relative `file:` references resolve; default: the directory of `fileName`. */
  baseDir?: string;
}

function problemAt(
  file: string,
  line: number,
  column: number,
  expected: string,
  found: string,
  message: string,
): Problem {
  return { file, line, column, path: '', expected, found, message };
}

function yamlProblem(file: string, text: string, err: YAMLError): Problem {
  const pos = err.linePos?.[0] ?? { line: 1, col: 1 };
  let message = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  let found: string = err.code;
  if (err.code === 'DUPLICATE_KEY') {
    const key = /^[^:\n]*/.exec(text.slice(err.pos[0]))![0].trim();
    message = `duplicate key \`${key}\` (each key may appear once in a mapping)`;
    found = `\`${key}\` again`;
  }
  return problemAt(
    file,
    pos.line,
    pos.col,
    err.code === 'DUPLICATE_KEY' ? 'unique keys' : 'valid YAML',
    found,
    message,
  );
}

interface Candidate {
  doc: Document.Parsed;
  node: YNode;
  path: string;
}

function byPosition(a: Problem, b: Problem): number {
  return a.line - b.line || a.column - b.column;
}

/** Validates policy text; never throws for bad input. */
export function validatePolicyText(
  text: string,
  fileName: string = DEFAULT_POLICY_FILE,
  options: ParseOptions = {},
): ValidationResult {
  const problems: Problem[] = [];
  const bad = (line: number, column: number, expected: string, found: string, message: string): ValidationResult => {
    problems.push(problemAt(fileName, line, column, expected, found, message));
    return { ok: false, problems };
  };
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) {
    return bad(
      1,
      1,
      `at most ${MAX_POLICY_BYTES} bytes`,
      `${Buffer.byteLength(text)} bytes`,
      'the file is too large to be a policy',
    );
  }
  const deep = excessiveNesting(text);
  if (deep) {
    return bad(
      deep.line,
      deep.column,
      `at most ${MAX_DEPTH} levels of nesting`,
      'deeper nesting',
      `nesting deeper than ${MAX_DEPTH} levels (the limit for a policy file)`,
    );
  }
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  let fatal = false;
  for (const doc of docs) {
    for (const err of doc.errors) {
      problems.push(yamlProblem(fileName, text, err));
      if (err.code !== 'DUPLICATE_KEY') fatal = true;
    }
    for (const w of doc.warnings) problems.push(yamlProblem(fileName, text, w));
  }
  // Past a syntax error the tree is a guess; reporting schema problems on it would mislead.
  if (fatal) return { ok: false, problems: problems.sort(byPosition) };

  const nonEmpty = docs.filter((d) => d.contents !== null);
  if (nonEmpty.length === 0) {
    return bad(
      1,
      1,
      `a ${POLICY_KIND} document`,
      'an empty file',
      `the file is empty; expected a ${POLICY_KIND} document (\`sluice init\` writes one)`,
    );
  }
  let candidates: Candidate[] = nonEmpty.map((doc) => ({ doc, node: doc.contents as YNode, path: '' }));
  if (candidates.length === 1 && kindOf(candidates[0]!.node) === 'List') {
    const { doc, node } = candidates[0]!;
    const items = isMap(node) ? deref(new Ctx(fileName, doc, lineCounter), node.get('items', true)) : null;
    if (!isSeq(items)) {
      const pos = lineCounter.linePos(node.range?.[0] ?? 0);
      return bad(pos.line, pos.col, 'a list under `items`', 'no items', 'a `kind: List` document needs `items`');
    }
    candidates = items.items.map((item, i) => ({ doc, node: item as YNode, path: joinPath('items', i) }));
  }
  let policies = candidates;
  if (candidates.length > 1) {
    policies = candidates.filter((c) => kindOf(c.node) === POLICY_KIND);
    for (const c of candidates) {
      if (kindOf(c.node) === POLICY_KIND) continue;
      const pos = lineCounter.linePos(c.node.range?.[0] ?? 0);
      problems.push(
        problemAt(
          fileName,
          pos.line,
          pos.col,
          `kind ${POLICY_KIND}`,
          String(kindOf(c.node) ?? 'no kind'),
          `unexpected document (kind: ${kindOf(c.node) ?? 'none'}); this file holds one ${POLICY_KIND}`,
        ),
      );
    }
    if (policies.length !== 1) {
      const extra = policies[1] ?? candidates[0]!;
      const pos = lineCounter.linePos(extra.node.range?.[0] ?? 0);
      problems.push(
        problemAt(
          fileName,
          pos.line,
          pos.col,
          `exactly one ${POLICY_KIND} document`,
          `${policies.length}`,
          `expected exactly one ${POLICY_KIND} document, found ${policies.length}`,
        ),
      );
      return { ok: false, problems: problems.sort(byPosition) };
    }
  }
  const { doc, node, path } = policies[0]!;
  const ctx = new Ctx(fileName, doc, lineCounter);
  ctx.builtin('evidence', BUILTIN_EVIDENCE_NAMES);
  if (!checkAliasExpansion(ctx, node)) return { ok: false, problems: [...problems, ...ctx.problems].sort(byPosition) };
  const raw = policyDocument({ node: deref(ctx, node)!, path, ctx });
  ctx.finish();
  problems.push(...ctx.problems);
  problems.sort(byPosition);
  if (ctx.dropped > 0) {
    problems.push(
      problemAt(
        fileName,
        1,
        1,
        `at most ${MAX_PROBLEMS} problems`,
        `${MAX_PROBLEMS + ctx.dropped} problems`,
        `${ctx.dropped} more problems not shown; fix the ones above first`,
      ),
    );
  }
  if (problems.length > 0 || raw === INVALID) return { ok: false, problems };
  return { ok: true, problems: [], policy: resolvePolicy(raw, options.baseDir ?? dirname(fileName)) };
}

export function policyError(fileName: string, problems: Problem[]): SluiceError {
  const first = problems[0];
  const n = problems.length;
  const message = `${fileName}: ${n} problem${n === 1 ? '' : 's'} in the lifecycle policy:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
  return new SluiceError('POLICY_INVALID', 'invalid-input', message, {
    location: first ? `${first.file}:${first.line}:${first.column}` : fileName,
    problems,
  });
}

/** Parses and validates policy text; throws one POLICY_INVALID listing every problem. */
export function parsePolicy(
  text: string,
  fileName: string = DEFAULT_POLICY_FILE,
  options: ParseOptions = {},
): LifecyclePolicy {
  const r = validatePolicyText(text, fileName, options);
  if (!r.ok || !r.policy) throw policyError(fileName, r.problems);
  return r.policy;
}

async function readPolicyFile(path: string): Promise<string> {
  return readInputText(path, {
    what: 'policy file',
    limit: MAX_POLICY_BYTES,
    unreadable: (errno) =>
      errno === 'ENOENT'
        ? new SluiceError(
            'POLICY_NOT_FOUND',
            'not-found',
            `policy file ${path} does not exist (create one with \`sluice init\`)`,
            { location: path },
          )
        : new SluiceError('POLICY_UNREADABLE', 'invalid-input', `cannot read policy file ${path} (${errno})`, {
            location: path,
          }),
  });
}

/** Reads, validates and resolves a policy file. */
export async function loadPolicy(path: string): Promise<LifecyclePolicy> {
  return parsePolicy(await readPolicyFile(path), path);
}

/** For `sluice config validate`: every problem, without throwing for bad content. */
export async function validatePolicyFile(path: string): Promise<ValidationResult> {
  return validatePolicyText(await readPolicyFile(path), path);
}
