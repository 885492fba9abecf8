/**
 * The CLI loads only the module of the command it runs. These tests keep the table that maps
 * commands to modules equal to what the modules register, and check that a call loads neither
 * the store nor the capabilities it does not use.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CliContext } from '../../../src/cli/context.ts';
import { buildProgram, COMMAND_GROUPS, commandName, programWith, valuedOptions } from '../../../src/cli/main.ts';
import type { Writer } from '../../../src/cli/output.ts';

const silent: Writer = { out: () => undefined, err: () => undefined };
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('command groups', () => {
  it('name exactly the top-level commands each module registers', async () => {
    for (const group of COMMAND_GROUPS) {
      const program = programWith(new CliContext(silent), [await group.load()]);
      assert.deepEqual(
        program.commands.map((c) => c.name()).sort(),
        [...group.commands].sort(),
        `group ${group.commands.join(', ')}`,
      );
    }
  });

  it('never name one command twice', () => {
    const names = COMMAND_GROUPS.flatMap((g) => g.commands);
    assert.equal(new Set(names).size, names.length);
  });

  it('load every group for help and for an unknown command', async () => {
    const all = COMMAND_GROUPS.flatMap((g) => g.commands).sort();
    for (const argv of [[], ['--help'], ['help', 'copy'], ['copyy', 'a', 'b']]) {
      const program = await buildProgram(new CliContext(silent), argv);
      assert.deepEqual(program.commands.map((c) => c.name()).sort(), all, argv.join(' '));
    }
  });

  it('load no group for --version', async () => {
    const program = await buildProgram(new CliContext(silent), ['--version']);
    assert.deepEqual(program.commands, []);
  });

  it('load only the group of the command named', async () => {
    const program = await buildProgram(new CliContext(silent), ['-o', 'json', 'copy', 'a', 'b']);
    assert.deepEqual(program.commands.map((c) => c.name()).sort(), ['catalog', 'copy', 'inspect', 'ls']);
  });
});

describe('commandName', () => {
  const cases: Array<[string[], string | undefined]> = [
    [['copy', 'a', 'b'], 'copy'],
    [['-o', 'json', 'inspect', 'x'], 'inspect'],
    [['--output', 'yaml', 'ls', 'x'], 'ls'],
    [['--output=json', 'promote', 'x'], 'promote'],
    [['-c', 'other.yaml', '--authfile', 'auth.json', 'retention', 'plan'], 'retention'],
    [['--config', 'sluice.yaml', '--ca-file', 'ca.pem', '--insecure', 'sync'], 'sync'],
    [['-q', '--', 'copy'], 'copy'],
    [['--version'], undefined],
    [[], undefined],
  ];
  for (const [argv, expected] of cases) {
    it(`${JSON.stringify(argv)} → ${expected ?? 'none'}`, () =>
      assert.equal(commandName(argv, valuedOptions(programWith(new CliContext(silent), []))), expected));
  }
});

describe('start-up of a registry command', () => {
  it('loads neither the store, the policy parser nor other capabilities', () => {
    const hook = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ load(url, ctx, next) { seen.push(url); return next(url, ctx); } });
      process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify([...seen, ...process.moduleLoadList]) + '\\n'));
    `;
    // A directory without sluice.yaml: with one, the policy modules load (as they should).
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'sluice-startup-'));
    const res = spawnSync(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(hook)}`,
        path.join(ROOT, 'bin', 'sluice.js'),
        'copy',
        '--help',
      ],
      { cwd, encoding: 'utf8' },
    );
    rmSync(cwd, { recursive: true, force: true });
    assert.equal(res.status, 0, res.stderr);
    const line = res.stderr.split('\n').find((l) => l.startsWith('LOADED '));
    assert.ok(line, res.stderr);
    const loaded = JSON.parse(line.slice('LOADED '.length)) as string[];
    assert.ok(
      loaded.some((u) => u.endsWith('/src/oci/copy.ts')),
      'the copy engine is loaded',
    );
    for (const unwanted of [
      '/node_modules/kysely/',
      '/node_modules/pg/',
      '/node_modules/yaml/',
      '/src/store/',
      '/src/promotion/',
      '/src/retention/',
      '/src/signing/',
      '/src/server/',
      // node:http's ESM facade would load its bundled fetch (undici): ~20 ms per call.
      'internal/deps/undici',
    ]) {
      assert.ok(!loaded.some((u) => u.includes(unwanted)), `${unwanted} is not loaded`);
    }
  });
});
