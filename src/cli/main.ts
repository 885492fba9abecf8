/** The `sluice` command line: global flags, command registration, error → exit code. */
import { Command, CommanderError, Option } from 'commander';
import type { SluiceError } from '../errors.ts';
import { asSluiceError, exitCodeFor } from '../errors.ts';
import { excerpt } from '../text.ts';
import { VERSION } from '../version.ts';
import { CliContext } from './context.ts';
import { OUTPUT_FORMATS, oneLine, stdio, terminalSafe, type Writer } from './output.ts';

type Register = (program: Command, ctx: CliContext) => void;

const MAX_ERROR_LINE_CHARS = 1000;

/**
 * Which module defines each top-level command. A call loads only the group of the command it
 * runs: start-up is most of a short CLI call (CI pipelines make many), and the lifecycle
 * commands pull in the store, its drivers and the capabilities. Help and unknown commands
 * load every group. A unit test keeps this table equal to what the groups register.
 */
export const COMMAND_GROUPS: ReadonlyArray<{ commands: readonly string[]; load: () => Promise<Register> }> = [
  {
    commands: ['inspect', 'ls', 'catalog', 'copy'],
    load: async () => (await import('./commands/registry.ts')).registerRegistryCommands,
  },
  {
    commands: ['keygen', 'sign', 'verify'],
    load: async () => (await import('./commands/signing.ts')).registerSigningCommands,
  },
  { commands: ['init', 'config'], load: async () => (await import('./commands/config.ts')).registerConfigCommands },
  {
    commands: ['sync', 'usage', 'images'],
    load: async () => (await import('./commands/inventory.ts')).registerInventoryCommands,
  },
  {
    commands: ['serve', 'token', 'audit'],
    load: async () => (await import('./commands/server.ts')).registerServerCommands,
  },
  {
    commands: ['evidence', 'approve', 'gate', 'promote', 'rollback', 'verify-deployable', 'promotions', 'hold'],
    load: async () => (await import('./commands/promotion.ts')).registerPromotionCommands,
  },
  {
    commands: ['admission'],
    load: async () => (await import('./commands/admission.ts')).registerAdmissionCommands,
  },
  { commands: ['db'], load: async () => (await import('./commands/vulndb.ts')).registerVulndbCommands },
  {
    commands: ['findings', 'waiver'],
    load: async () => (await import('./commands/findings.ts')).registerFindingsCommands,
  },
  { commands: ['retention'], load: async () => (await import('./commands/retention.ts')).registerRetentionCommands },
];

/** The program's options that take a value (`-o json`), so a value is not taken for a command. */
export function valuedOptions(program: Command): Set<string> {
  return new Set(
    program.options
      .filter((o) => o.required || o.optional)
      .flatMap((o) => [o.short, o.long].filter((f) => f !== undefined)),
  );
}

/** The top-level command an argument list names, if any. */
export function commandName(argv: readonly string[], valued: ReadonlySet<string>): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1];
    if (!a.startsWith('-')) return a;
    if (valued.has(a)) i++;
  }
  return undefined;
}

/** The program with the groups `argv` needs: the one of its command, or all of them. */
export async function buildProgram(ctx: CliContext, argv?: readonly string[]): Promise<Command> {
  const program = globalProgram(ctx);
  const name = argv ? commandName(argv, valuedOptions(program)) : undefined;
  const own = COMMAND_GROUPS.find((g) => name !== undefined && g.commands.includes(name));
  const versionOnly =
    name === undefined &&
    argv?.some((a) => a === '-V' || a === '--version') &&
    !argv.some((a) => a === '-h' || a === '--help');
  const groups = own ? [own] : versionOnly ? [] : COMMAND_GROUPS;
  return withCommands(program, ctx, await Promise.all(groups.map((g) => g.load())));
}

/** The program with the given command modules registered. */
export function programWith(ctx: CliContext, registers: readonly Register[]): Command {
  return withCommands(globalProgram(ctx), ctx, registers);
}

/** The program with its global options and no commands. */
function globalProgram(ctx: CliContext): Command {
  return new Command()
    .name('sluice')
    .description('Container image lifecycle manager: promotion, retention, vulnerabilities, signing and audit')
    .version(VERSION)
    .addOption(
      new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS as string[]).default('table'),
    )
    .option('--insecure', 'allow plain http and unverified TLS for registries that are not on loopback')
    .option('--ca-file <path>', 'trust this CA bundle (PEM) for registries')
    .option('--authfile <path>', 'registry credentials file (containers auth.json / docker config.json format)')
    .option('-c, --config <file>', 'lifecycle policy file (default: ./sluice.yaml)')
    .option('-q, --quiet', 'no progress output')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.w.out(s), writeErr: (s) => ctx.w.err(s) });
}

function withCommands(program: Command, ctx: CliContext, registers: readonly Register[]): Command {
  for (const register of registers) register(program, ctx);
  const override = (c: Command) => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

function reportError(w: Writer, err: SluiceError, json: boolean): void {
  if (json) {
    w.err(JSON.stringify({ error: err.toJSON() }) + '\n');
    return;
  }
  // Commands that already printed their findings (config validate) only set the exit code.
  if (err.context.reported) return;
  // Whatever input a message quotes, no line of it buries the rest (references quote less, see src/text.ts).
  const message = err.message
    .split('\n')
    .map((line) => excerpt(line, MAX_ERROR_LINE_CHARS))
    .join('\n');
  w.err(`error: ${message}\n`);
  const problems = err.context.problems;
  if (Array.isArray(problems)) {
    for (const p of problems as Array<{ location?: string; message?: string }>) {
      w.err(`  ${oneLine(`${p.location ? `${p.location}: ` : ''}${p.message ?? JSON.stringify(p)}`)}\n`);
    }
  }
  if (process.env.SLUICE_DEBUG && err.category === 'internal') w.err(`${(err.cause as Error)?.stack ?? err.stack}\n`);
}

/** Runs the CLI and returns the exit code: 0 ok, 1 operation failed, 2 usage or input error. */
export async function main(
  argv: string[],
  writer: Writer = stdio,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const w = terminalSafe(writer);
  const ctx = new CliContext(w, env);
  const program = await buildProgram(ctx, argv);
  const json =
    argv.some((a, i) => (a === '-o' || a === '--output') && argv[i + 1] === 'json') ||
    argv.includes('--output=json') ||
    argv.includes('-ojson');
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return 2;
    }
    const e = asSluiceError(err);
    reportError(w, e, json);
    return exitCodeFor(e.category);
  } finally {
    await ctx.close();
  }
}
