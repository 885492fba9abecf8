/** The `sluice` command line: global flags, command registration, error → exit code. */
import { Command, CommanderError, Option } from 'commander';
import type { SluiceError } from '../errors.ts';
import { asSluiceError, exitCodeFor } from '../errors.ts';
import { CliContext } from './context.ts';
import { OUTPUT_FORMATS, stdio, type Writer } from './output.ts';
import { registerConfigCommands } from './commands/config.ts';
import { registerInventoryCommands } from './commands/inventory.ts';
import { registerPromotionCommands } from './commands/promotion.ts';
import { registerRegistryCommands } from './commands/registry.ts';
import { registerRetentionCommands } from './commands/retention.ts';
import { registerServerCommands } from './commands/server.ts';
import { registerSigningCommands } from './commands/signing.ts';

export const VERSION = '0.1.0';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command();
  program
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
  registerRegistryCommands(program, ctx);
  registerSigningCommands(program, ctx);
  registerConfigCommands(program, ctx);
  registerInventoryCommands(program, ctx);
  registerServerCommands(program, ctx);
  registerPromotionCommands(program, ctx);
  registerRetentionCommands(program, ctx);
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
  w.err(`error: ${err.message}\n`);
  const problems = err.context.problems;
  if (Array.isArray(problems)) {
    for (const p of problems as Array<{ location?: string; message?: string }>) {
      w.err(`  ${p.location ? `${p.location}: ` : ''}${p.message ?? JSON.stringify(p)}\n`);
    }
  }
  if (process.env.SLUICE_DEBUG && err.category === 'internal') w.err(`${(err.cause as Error)?.stack ?? err.stack}\n`);
}

/** Runs the CLI and returns the exit code: 0 ok, 1 operation failed, 2 usage or input error. */
export async function main(argv: string[], w: Writer = stdio, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const ctx = new CliContext(w, env);
  const program = buildProgram(ctx);
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
