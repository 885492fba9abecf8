/** `copy --batch` that falls short says so: exit 1, a summary on stderr, counts in the JSON error. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../../helpers/cli.ts';
import { buildImage, pushImage, skopeoListTags } from '../../helpers/images.ts';
import { makeTempDir } from '../../helpers/proc.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';

let reg: RegistryHandle;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

test('a batch with a failed copy exits 1 and counts copied, unchanged and failed', async () => {
  await pushImage(await buildImage({ layers: 1 }), reg, 'exit/app:1');
  await pushImage(await buildImage({ layers: 1 }), reg, 'exit/done:1');
  await runCli(['copy', `${reg.host}/exit/done:1`, `${reg.host}/exit-copy/done:1`]);
  const file = path.join(await makeTempDir('sluice-batch-exit-'), 'pairs.txt');
  await writeFile(
    file,
    [
      `${reg.host}/exit/app:1 ${reg.host}/exit-copy/app:1`,
      `${reg.host}/exit/done:1 ${reg.host}/exit-copy/done:1`,
      `${reg.host}/exit/missing:1 ${reg.host}/exit-copy/missing:1`,
    ].join('\n') + '\n',
  );
  const text = await runCli(['copy', '--batch', file]);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /error: 1 of 3 copies failed/);

  const json = await runCli(['copy', '--batch', file, '-o', 'json']);
  assert.equal(json.code, 1);
  const results = JSON.parse(json.stdout) as Array<{ error?: unknown }>;
  assert.equal(results.filter((r) => r.error).length, 1);
  const err = JSON.parse(json.stderr).error;
  assert.equal(err.code, 'COPY_FAILED');
  // The second run finds the first two copies already there.
  assert.deepEqual(err.counts, { total: 3, copied: 0, unchanged: 2, failed: 1 });
  assert.deepEqual(await skopeoListTags(reg, 'exit-copy/app'), ['1']);
});
