/** `sluice admission manifests`: the webhook configurations for a cluster. */
import type { Command } from 'commander';
import { admissionWebhookConfigurations, caBundleOf, yamlDocuments } from '../../admission/index.ts';
import { readInputFile } from '../../files.ts';
import { DEFAULT_POLICY_FILE, loadPolicy } from '../../policy/index.ts';
import type { CliContext } from '../context.ts';
import { emit } from '../output.ts';

const MAX_CA_FILE_BYTES = 1024 * 1024;

export function registerAdmissionCommands(program: Command, ctx: CliContext): void {
  const admission = program.command('admission').description('Kubernetes admission webhook');
  admission
    .command('manifests')
    .description(
      'print the ValidatingWebhookConfiguration (and MutatingWebhookConfiguration with admission.mutate) for sluice serve',
    )
    .option('--namespace <name>', 'namespace Sluice runs in (never sent to the webhook)', 'sluice')
    .option('--service <name>', 'Service in front of sluice serve', 'sluice')
    .action(async (opts: { namespace: string; service: string }, cmd: Command) => {
      const g = ctx.globals(cmd);
      const policy = await loadPolicy(g.config ?? DEFAULT_POLICY_FILE);
      // The program-wide --ca-file names the CA that signed sluice serve's certificate here.
      const caBundle = g.caFile
        ? caBundleOf(
            (await readInputFile(g.caFile, { what: '--ca-file', limit: MAX_CA_FILE_BYTES })).toString('utf8'),
            g.caFile,
          )
        : undefined;
      const objects = admissionWebhookConfigurations({
        settings: policy.admission,
        namespace: opts.namespace,
        service: opts.service,
        ...(caBundle ? { caBundle } : {}),
      });
      emit(ctx.w, g.output, objects, { text: () => yamlDocuments(objects) });
    });
}
