/**
 * Runs the benches, each in a process of its own (`npm run bench` lands here).
 *
 *   npm run bench                                    all benches
 *   npm run bench -- copy --scenario a,b --runs 7    one bench; other flags go to it
 *   npm run bench -- copy --json                     also write bench/results/copy-<time>.json
 *   npm run bench -- ecdsa-verify --runs 3
 *
 * Flags given to every bench: --runs N; --json and --verbose where the bench supports them
 * (copy), dropped for the others.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

interface Bench {
  file: string;
  describe: string;
  /** Flags for node itself. */
  nodeArgs?: string[];
  /** Turns the common flags into this bench's arguments and environment. */
  invoke(args: string[]): { args: string[]; env: NodeJS.ProcessEnv };
}

function takeFlag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
}

/** For benches that parse their own flags but know nothing of --json/--verbose: those are dropped. */
function withoutCommonOutputFlags(args: string[]): { args: string[]; env: NodeJS.ProcessEnv } {
  return { args: args.filter((a) => a !== '--json' && a !== '--verbose' && a !== '-v'), env: process.env };
}

const BENCHES: Record<string, Bench> = {
  copy: {
    file: 'copy.bench.ts',
    describe: 'copy engine vs skopeo copy: promotion, bulk, large image, multi-platform index',
    invoke: (args) => ({ args, env: process.env }),
  },
  'ecdsa-verify': {
    file: 'ecdsa-verify.bench.ts',
    describe: 'ECDSA P-256 verification vs openssl speed',
    invoke: (args) => {
      const rest = [...args];
      const runs = takeFlag(rest, '--runs');
      const unsupported = rest.filter((a) => a !== '--json' && a !== '--verbose' && a !== '-v');
      if (unsupported.length) throw new Error(`ecdsa-verify does not take ${unsupported.join(' ')}`);
      return { args: [], env: { ...process.env, ...(runs ? { BENCH_ROUNDS: runs } : {}) } };
    },
  },
  'signing-verify': {
    file: 'signing-verify.bench.ts',
    describe: 'verifyImage throughput for 1, 10 and 100 cosign signatures',
    invoke: withoutCommonOutputFlags,
  },
  'retention-plan': {
    file: 'retention-plan.bench.ts',
    describe: 'retention planner over 1,000,000 tags: time and peak memory',
    nodeArgs: ['--max-old-space-size=2048'],
    invoke: withoutCommonOutputFlags,
  },
  findings: {
    file: 'findings.bench.ts',
    describe: 'findings: 10,000-finding report imported twice; overdue query over 500,000 findings',
    invoke: withoutCommonOutputFlags,
  },
};

function usage(): string {
  return [
    'usage: npm run bench -- [BENCH] [--runs N] [--json] [--verbose] [bench flags]',
    '',
    ...Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(16)} ${b.describe}`),
  ].join('\n');
}

function runOne(name: string, args: string[]): Promise<number> {
  const bench = BENCHES[name]!;
  let invocation: { args: string[]; env: NodeJS.ProcessEnv };
  try {
    invocation = bench.invoke(args);
  } catch (err) {
    console.error(`=== ${name} === skipped: ${(err as Error).message}`);
    return Promise.resolve(2);
  }
  const { args: benchArgs, env } = invocation;
  console.log(`=== ${name} ===`);
  return new Promise((resolve, reject) => {
    const argv = [...(bench.nodeArgs ?? []), path.join(import.meta.dirname, bench.file), ...benchArgs];
    const child = spawn(process.execPath, argv, {
      stdio: 'inherit',
      env,
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  const named = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : undefined;
  if (named !== undefined && !BENCHES[named]) {
    console.error(`unknown bench "${named}"\n\n${usage()}`);
    return 2;
  }
  const args = named ? argv.slice(1) : argv;
  let status = 0;
  for (const name of named ? [named] : Object.keys(BENCHES)) {
    // Only --runs, --json and --verbose make sense for every bench when none is named.
    const code = await runOne(name, args);
    if (code !== 0) status = code;
  }
  return status;
}

process.exitCode = await main(process.argv.slice(2));
