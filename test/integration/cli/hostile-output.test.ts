/**
 * What the CLI prints of a registry's or a user's text cannot drive the operator's terminal:
 * control characters arrive escaped in every human-readable output, exact in JSON. A real
 * Distribution registry holds the image; skopeo pushes it as any build would.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { hasControls } from '../../../src/text.ts';
import { runCli } from '../../helpers/cli.ts';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { makeTempDir, removeTempDir } from '../../helpers/proc.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';

/** Clears the screen, sets the window title, writes the clipboard (OSC 52), reverses text, moves the cursor (C1 CSI). */
const HOSTILE = '\u001b[2J\u001b]0;pwned\u0007\u001b]52;c;ZXZpbA==\u0007\u202eevil\u009b1A\u007f';

/** Label keys cannot hold `=` (the build tool splits there). */
const KEY = 'key\u001b[2J\u202e';

let reg: RegistryHandle;
let dir: string;
before(async () => {
  [reg, dir] = await Promise.all([startRegistry(), makeTempDir('sluice-hostile-')]);
});
after(async () => {
  await Promise.all([reg?.stop(), dir ? removeTempDir(dir) : undefined]);
});

describe('registry text', () => {
  test('an image label with escape sequences is shown escaped by inspect, and exact with -o json', async () => {
    const img = await buildImage({
      layers: 1,
      labels: { description: `ok${HOSTILE}`, [KEY]: 'v', multi: 'one\nDigest:      sha256:forged' },
    });
    await pushImage(img, reg, 'acme-dev/label:1.0.0-1');
    const ref = `${reg.host}/acme-dev/label:1.0.0-1`;

    const table = await runCli(['inspect', ref]);
    assert.equal(table.code, 0, table.stderr);
    assert.ok(!hasControls(table.stdout), JSON.stringify(table.stdout));
    assert.ok(table.stdout.includes('description=ok\\u001b[2J\\u001b]0;pwned\\u0007'), table.stdout);
    assert.ok(table.stdout.includes('\\u202eevil\\u009b1A\\u007f'), table.stdout);
    assert.ok(table.stdout.includes('  key\\u001b[2J\\u202e=v'), table.stdout);
    // A newline in a label does not forge a line of the report.
    assert.equal(table.stdout.match(/^Digest:/gm)?.length, 1, table.stdout);
    assert.ok(table.stdout.includes('multi=one\\u000aDigest:'), table.stdout);

    const json = await runCli(['inspect', ref, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    assert.ok(!hasControls(json.stdout), 'JSON output escapes them too');
    const d = JSON.parse(json.stdout) as { labels: Record<string, string> };
    assert.equal(d.labels.description, `ok${HOSTILE}`);
    assert.equal(d.labels[KEY], 'v');
    assert.equal(d.labels.multi, 'one\nDigest:      sha256:forged');

    const yaml = await runCli(['inspect', ref, '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.ok(!hasControls(yaml.stdout));
    const { parse } = await import('yaml');
    assert.equal((parse(yaml.stdout) as typeof d).labels.description, `ok${HOSTILE}`);
  });
});

describe('user text', () => {
  test('a crafted key in a policy is reported escaped by config validate, and exact with -o json', async () => {
    const file = path.join(dir, 'crafted.yaml');
    await writeFile(
      file,
      'apiVersion: sluice.dev/v1alpha1\nkind: LifecyclePolicy\n"\\e]0;pwned\\a\\e[2J\\u202e": 1\n"two\\nsluice.yaml: valid": 2\nspec: {}\n',
    );
    const r = await runCli(['config', 'validate', file]);
    assert.equal(r.code, 2);
    const out = r.stdout + r.stderr;
    assert.ok(!hasControls(out), JSON.stringify(out));
    assert.ok(out.includes('unknown key `\\u001b]0;pwned\\u0007\\u001b[2J\\u202e`'), out);
    assert.doesNotMatch(out, /^sluice\.yaml: valid/m, 'a newline in a key does not forge a line');

    const json = await runCli(['-o', 'json', 'config', 'validate', file]);
    const { problems } = JSON.parse(json.stdout) as { problems: Array<{ found: string }> };
    assert.ok(problems.some((p) => p.found === '`\u001b]0;pwned\u0007\u001b[2J\u202e`'));
  });

  test('a crafted reference is echoed escaped', async () => {
    const r = await runCli(['inspect', `${reg.host}/acme\u001b]0;pwned\u0007/api:1`]);
    assert.equal(r.code, 2);
    assert.ok(!hasControls(r.stderr), JSON.stringify(r.stderr));
    assert.match(r.stderr, /acme\\u001b\]0;pwned\\u0007/);
  });

  test('a reference with user info is refused and neither the user nor the password is repeated', async () => {
    for (const args of [
      ['inspect', `admin:hunter2@${reg.host}/acme-dev/label:1.0.0-1`],
      ['-o', 'json', 'inspect', `admin:hunter2@${reg.host}/acme-dev/label:1.0.0-1`],
      ['copy', `admin:hunter2@${reg.host}/acme-dev/label:1.0.0-1`, `${reg.host}/acme-dev/copy:1`],
      ['catalog', `https://admin:hunter2@${reg.host}`],
    ]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /a reference carries no user info/);
      assert.doesNotMatch(r.stdout + r.stderr, /admin|hunter2/);
    }
  });

  test('any error line quoting long input is cut short', async () => {
    const r = await runCli(['copy', 'a/b:1', 'c/d:1', '--concurrency', 'x'.repeat(10_000)]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.length < 1100, `${r.stderr.length} characters`);
    assert.match(r.stderr, /^error: --concurrency must be a positive integer \(got "x+\.\.\. \(10049 characters\)\n$/);
  });

  test('a 10,000-character reference is echoed cut short', async () => {
    const r = await runCli(['inspect', `${reg.host}/${'a'.repeat(10_000)}/B:1`]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.length < 600, `${r.stderr.length} characters`);
    assert.match(r.stderr, /\(\d{5} characters\)/);
  });
});
