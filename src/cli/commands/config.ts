/** `sluice init` and `sluice config validate`. */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { SluiceError } from '../../errors.ts';
import { DEFAULT_POLICY_FILE, formatProblem, renderInitFile, validatePolicyFile } from '../../policy/index.ts';
import type { CliContext } from '../context.ts';
import { emit } from '../output.ts';

export function registerConfigCommands(program: Command, ctx: CliContext): void {
  program
    .command('init')
    .description('write a commented sluice.yaml with the default lifecycle (4 stages, gates, retention, SLAs)')
    .argument('[file]', 'where to write it', DEFAULT_POLICY_FILE)
    .option('--force', 'overwrite an existing file')
    .action(async (file: string, opts: { force?: boolean }, cmd: Command) => {
      const g = ctx.globals(cmd);
      if (existsSync(file) && !opts.force) {
        throw new SluiceError('FILE_EXISTS', 'conflict', `${file} already exists; use --force to overwrite it`, {
          location: file,
        });
      }
      await writeFile(file, renderInitFile(), { mode: 0o644 });
      emit(ctx.w, g.output, { written: file }, { text: () => `wrote ${file}\n` });
    });

  const config = program.command('config').description('lifecycle policy file');
  config
    .command('validate')
    .description('check a policy file and report every problem with file:line:column')
    .argument('[file]', 'policy file', DEFAULT_POLICY_FILE)
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const g = ctx.globals(cmd);
      const result = await validatePolicyFile(file);
      emit(
        ctx.w,
        g.output,
        { file, valid: result.ok, problems: result.problems },
        {
          text: () => (result.ok ? `${file}: valid\n` : result.problems.map((p) => formatProblem(p) + '\n').join('')),
        },
      );
      if (!result.ok) {
        throw new SluiceError('POLICY_INVALID', 'invalid-input', `${file}: ${result.problems.length} problem(s)`, {
          location: file,
          reported: true,
        });
      }
    });
}
