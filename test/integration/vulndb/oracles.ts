/**
 * The ecosystems' own tools, driven in batches: each oracle takes many version pairs in one
 * process (or a few) and answers, per pair, whether the tool accepts each version and how it
 * orders them. These are the judges of src/vulndb/versions/.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { makeTempDirSync } from '../../helpers/index.ts';

export type Pair = readonly [string, string];

export interface Verdict {
  validA: boolean;
  validB: boolean;
  /** null when the tool refused either version. */
  order: -1 | 0 | 1 | null;
}

function pipe(command: string, args: string[], input: string, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...options });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new Error(`${command} is not installed (bash .ci/run installs it)`) : err),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${command} exited with ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 2000)}`));
    });
    child.stdin.end(input);
  });
}

const sign = (n: number): -1 | 0 | 1 => (n < 0 ? -1 : n > 0 ? 1 : 0);
const SEP = '\x1f';

function lines(text: string, expected: number, tool: string): string[] {
  const all = text.split('\n').filter((l) => l !== '');
  if (all.length !== expected) throw new Error(`${tool} answered ${all.length} lines for ${expected} pairs`);
  return all;
}

// dpkg --compare-versions exits 0 (true), 1 (false) or 2 (bad syntax, an error); a warning
// (bad syntax that dpkg still compares) shows on stderr only.
// stderr goes to a file rather than through $(...), which would cost a fork per pair.
const DPKG_LOOP = `
err=$(mktemp); trap 'rm -f "$err"' EXIT
while IFS=$'\\x1f' read -r a b; do
  dpkg --compare-versions -- "$a" lt "$b" 2>"$err"; rc=$?
  if [ $rc -eq 0 ]; then r=-1
  elif [ $rc -eq 1 ]; then
    if dpkg --compare-versions -- "$a" gt "$b" 2>/dev/null; then r=1; else r=0; fi
  else r=E; fi
  if [ -s "$err" ]; then w=W; else w=-; fi
  echo "$r $w"
done`;

/**
 * dpkg judges a pair as a whole: an error or a warning on either side makes both "invalid",
 * so the caller compares that with "either version is invalid".
 */
export async function dpkgOracle(
  pairs: readonly Pair[],
  workers = 2,
): Promise<Array<{ order: -1 | 0 | 1 | null; bad: boolean }>> {
  const size = Math.ceil(pairs.length / workers);
  const chunks = Array.from({ length: workers }, (_, i) => pairs.slice(i * size, (i + 1) * size));
  const answers = await Promise.all(
    chunks.map((chunk) => pipe('bash', ['-c', DPKG_LOOP], chunk.map(([a, b]) => `${a}${SEP}${b}\n`).join(''))),
  );
  return answers.flatMap((text, i) =>
    lines(text, chunks[i]!.length, 'dpkg').map((line) => {
      const [r, w] = line.split(' ');
      return { order: r === 'E' ? null : (Number(r) as -1 | 0 | 1), bad: r === 'E' || w === 'W' };
    }),
  );
}

const RPM_LUA =
  '%{lua: for line in io.lines() do local a, b = line:match("^(.-)\\31(.*)$"); ' +
  'local ok, r = pcall(rpm.vercmp, a, b); io.write(ok and tostring(r) or "E", "\\n") end}';

/** rpm.vercmp() of rpm's Lua: EVR parsing and rpmvercmp; it refuses only empty versions. */
export async function rpmOracle(pairs: readonly Pair[]): Promise<Verdict[]> {
  const text = await pipe('rpm', ['--eval', RPM_LUA], pairs.map(([a, b]) => `${a}${SEP}${b}\n`).join(''));
  return lines(text, pairs.length, 'rpm').map((r, i) => {
    const [a, b] = pairs[i]!;
    return r === 'E'
      ? { validA: a !== '', validB: b !== '', order: null }
      : { validA: true, validB: true, order: sign(Number(r)) };
  });
}

const PYTHON_ORACLE = `
import json, sys
from packaging.version import Version, InvalidVersion
def parse(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
out = []
for a, b in json.load(sys.stdin):
    va, vb = parse(a), parse(b)
    out.append([va is not None, vb is not None, None if va is None or vb is None else (va > vb) - (va < vb)])
json.dump(out, sys.stdout)
`;

/** Debian's python3 with python3-packaging, else whichever python3 is first on PATH. */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export async function pep440Oracle(pairs: readonly Pair[]): Promise<Verdict[]> {
  const out = JSON.parse(await pipe(PYTHON, ['-c', PYTHON_ORACLE], JSON.stringify(pairs))) as Array<
    [boolean, boolean, number | null]
  >;
  return out.map(([validA, validB, order]) => ({ validA, validB, order: order === null ? null : sign(order) }));
}

export function packagingVersion(): string {
  return execFileSync(PYTHON, ['-c', 'import packaging; print(packaging.__version__)'], { encoding: 'utf8' }).trim();
}

const RUBY_ORACLE = `
require "json"
out = JSON.parse(STDIN.read).map do |a, b|
  va = Gem::Version.correct?(a) ? Gem::Version.new(a) : nil
  vb = Gem::Version.correct?(b) ? Gem::Version.new(b) : nil
  [!va.nil?, !vb.nil?, (va && vb) ? (va <=> vb) : nil]
end
STDOUT.write(JSON.generate(out))
`;

export async function rubyOracle(pairs: readonly Pair[]): Promise<Verdict[]> {
  const out = JSON.parse(await pipe('ruby', ['-e', RUBY_ORACLE], JSON.stringify(pairs))) as Array<
    [boolean, boolean, number | null]
  >;
  return out.map(([validA, validB, order]) => ({ validA, validB, order: order === null ? null : sign(order) }));
}

const MAVEN_JARS = [
  '/usr/share/maven/lib/maven-artifact-3.x.jar',
  '/usr/share/java/maven3-artifact.jar',
  '/usr/share/java/maven-artifact.jar',
];

export const MAVEN_JAR = MAVEN_JARS.find((jar) => existsSync(jar));

/**
 * ComparableVersion's main() prints each argument's canonical form and compares each with the
 * next, so one JVM judges every adjacent pair of `versions`.
 */
export async function mavenOracle(versions: readonly string[]): Promise<{ canonical: string[]; orders: number[] }> {
  if (!MAVEN_JAR) throw new Error(`no maven-artifact jar among ${MAVEN_JARS.join(', ')}`);
  const text = await pipe(
    'java',
    ['-Xshare:auto', '-cp', MAVEN_JAR, 'org.apache.maven.artifact.versioning.ComparableVersion', ...versions],
    '',
  );
  const out = text.split('\n').slice(1);
  const canonical: string[] = [];
  const orders: number[] = [];
  let n = 0;
  for (const line of out) {
    if (line === '') continue;
    if (line.startsWith('   ')) {
      const prev = versions[n - 1]!;
      const op = line.slice(3 + prev.length + 1).split(' ')[0];
      orders.push(op === '<' ? -1 : op === '>' ? 1 : op === '==' ? 0 : NaN);
      continue;
    }
    const head = `${n + 1}. ${versions[n]} -> `;
    if (!line.startsWith(head)) throw new Error(`unexpected ComparableVersion output: ${line}`);
    canonical.push(line.slice(head.length, line.lastIndexOf('; tokens: ')));
    n++;
  }
  if (canonical.length !== versions.length || orders.length !== versions.length - 1) {
    throw new Error(`ComparableVersion answered ${canonical.length} versions for ${versions.length}`);
  }
  return { canonical, orders };
}

const GO_MAIN = `package main

import (
	"encoding/json"
	"os"

	"oracle/semver"
)

func main() {
	var pairs [][2]string
	if err := json.NewDecoder(os.Stdin).Decode(&pairs); err != nil {
		panic(err)
	}
	out := make([][3]int, len(pairs))
	b := func(ok bool) int {
		if ok {
			return 1
		}
		return 0
	}
	for i, p := range pairs {
		out[i] = [3]int{b(semver.IsValid(p[0])), b(semver.IsValid(p[1])), semver.Compare(p[0], p[1])}
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
`;

/**
 * golang.org/x/mod/semver as the Go toolchain on this machine vendors it
 * ($GOROOT/src/cmd/vendor/golang.org/x/mod/semver), built into a throwaway program: the module
 * itself cannot be downloaded here, and the toolchain's copy is the one `go` uses.
 */
export function goSemverSource(): string | undefined {
  try {
    const goroot = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
    const file = path.join(goroot, 'src', 'cmd', 'vendor', 'golang.org', 'x', 'mod', 'semver', 'semver.go');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

export async function goOracle(pairs: readonly Pair[]): Promise<Verdict[]> {
  const source = goSemverSource();
  if (!source) throw new Error('no golang.org/x/mod/semver in the Go toolchain');
  const dir = makeTempDirSync('go-semver');
  mkdirSync(path.join(dir, 'semver'));
  copyFileSync(source, path.join(dir, 'semver', 'semver.go'));
  writeFileSync(path.join(dir, 'go.mod'), 'module oracle\n\ngo 1.19\n');
  writeFileSync(path.join(dir, 'main.go'), GO_MAIN);
  const env = { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GO111MODULE: 'on' };
  const out = JSON.parse(await pipe('go', ['run', '.'], JSON.stringify(pairs), { cwd: dir, env })) as Array<
    [number, number, number]
  >;
  return out.map(([a, b, order]) => ({ validA: a === 1, validB: b === 1, order: a && b ? sign(order) : null }));
}
