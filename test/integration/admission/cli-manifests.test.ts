import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/proc.ts';
import { getTestPki } from '../../helpers/tls.ts';
import { MINIMAL } from '../../unit/policy/fixtures.ts';

test('sluice admission manifests prints both configurations from the policy, with the CA and Sluice excluded', async () => {
  const dir = await makeTempDir('admission-cli');
  const config = path.join(dir, 'sluice.yaml');
  await writeFile(
    config,
    `${MINIMAL}  admission:\n    namespaces:\n      - { pattern: "*-prod", stage: prod, mode: enforce }\n    exclude: [monitoring]\n    mutate: true\n`,
  );
  const pki = await getTestPki();
  const r = await runCli([
    '--config',
    config,
    '-o',
    'json',
    'admission',
    'manifests',
    '--namespace',
    'platform',
    '--ca-file',
    pki.caFile,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const objects = JSON.parse(r.stdout) as Array<{
    kind: string;
    webhooks: Array<{
      clientConfig: { caBundle: string; service: { namespace: string } };
      namespaceSelector: { matchExpressions: Array<{ values: string[] }> };
    }>;
  }>;
  assert.deepEqual(
    objects.map((o) => o.kind),
    ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration'],
  );
  const caBundle = Buffer.from(pki.caPem).toString('base64');
  for (const o of objects) {
    for (const w of o.webhooks) {
      assert.equal(w.clientConfig.service.namespace, 'platform');
      assert.equal(w.clientConfig.caBundle, caBundle);
      const excluded = w.namespaceSelector.matchExpressions[0]!.values;
      assert.deepEqual(excluded, ['kube-system', 'monitoring', 'platform']);
    }
  }
});
