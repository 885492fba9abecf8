import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_ARCHIVE_LIMITS,
  mavenReader,
  pomPropertiesInArchive,
} from '../../../../src/analysis/packages/maven/index.ts';
import { createReadStream } from 'node:fs';
import { TREE_LAYER } from '../../../helpers/package-tree.ts';
import { parseProperties } from '../../../../src/analysis/packages/maven/parse.ts';
import { readFiles, readTree } from '../../../helpers/package-tree.ts';
import { makeTempDir, removeTempDir, run } from '../../../helpers/proc.ts';

/** Debian's jars that carry Maven coordinates (installed with maven on this machine). */
const JARS = ['/usr/share/java/commons-io.jar', '/usr/share/java/commons-cli.jar'].filter((jar) => existsSync(jar));

let work: string;
before(async () => {
  work = await makeTempDir('maven');
});
after(async () => {
  await removeTempDir(work);
});

describe('maven reader', () => {
  it('reads pom.properties of jars unpacked into the image, as the archives themselves say', async () => {
    assert.ok(JARS.length > 0, 'maven’s Debian jars are installed');
    const expected: string[] = [];
    for (const jar of JARS) {
      const dir = path.join(work, 'app/WEB-INF/lib-exploded', path.basename(jar, '.jar'));
      await mkdir(dir, { recursive: true });
      await run('unzip', ['-q', '-o', jar, '-d', dir]);
      const poms = (await readdir(path.join(dir, 'META-INF/maven'), { recursive: true })).filter((f) =>
        f.endsWith('pom.properties'),
      );
      for (const pom of poms) {
        const props = parseProperties(
          (await run('unzip', ['-p', jar, `META-INF/maven/${pom}`])).stdout.toString('utf8'),
        );
        expected.push(`${props.get('groupId')}:${props.get('artifactId')}@${props.get('version')}`);
      }
    }
    const { packages, notes } = await readTree(mavenReader, work);
    assert.deepEqual(notes, []);
    assert.deepEqual(packages.map((p) => `${p.name}@${p.version}`).sort(), expected.sort());
    assert.ok(packages.every((p) => p.purl.startsWith('pkg:maven/')));
  });

  it('reads pom.properties inside every Debian jar as python zipfile lists them', async () => {
    const listing = await run('python3', [
      '-c',
      `import glob, os, re, zipfile
for jar in sorted(glob.glob('/usr/share/java/*.jar')):
    if os.path.islink(jar): continue
    with zipfile.ZipFile(jar) as z:
        for n in z.namelist():
            if re.fullmatch(r'META-INF/maven/[^/]+/[^/]+/pom.properties', n):
                p = dict(l.split('=', 1) for l in z.read(n).decode().splitlines() if '=' in l and not l.startswith('#'))
                print(os.path.basename(jar) + '!/' + n, p['groupId'] + ':' + p['artifactId'] + '@' + p['version'])`,
    ]);
    const expected = listing.stdout.toString('utf8').trim().split('\n').sort();
    assert.ok(expected.length > 10, 'Debian’s maven jars carry pom.properties');
    const { packages, notes } = await readTree(mavenReader, '/usr/share/java');
    assert.deepEqual(notes, []);
    assert.deepEqual(packages.map((p) => `${p.path} ${p.name}@${p.version}`).sort(), expected);
  });

  it('reads jars nested in a war, bounded in depth, and refuses a zip bomb with a note', async () => {
    const dir = path.join(work, 'nested');
    await mkdir(dir, { recursive: true });
    await run('python3', [
      '-c',
      `import io, zipfile
def z(entries):
    b = io.BytesIO()
    with zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as f:
        for n, d in entries: f.writestr(n, d)
    return b.getvalue()
pom = lambda g, a, v: ('META-INF/maven/%s/%s/pom.properties' % (g, a), 'groupId=%s\\nartifactId=%s\\nversion=%s\\n' % (g, a, v))
inner = z([pom('org.example', 'inner', '3.0')])
deep = z([pom('org.example', 'deep', '4.0'), ('lib/too-deep.jar', z([pom('org.example', 'toodeep', '5.0')]))])
lib = z([pom('org.example', 'lib', '2.0'), ('lib/inner.jar', inner), ('lib/deep.jar', deep)])
bomb = b'\\0' * (20 * 1024 * 1024)
war = z([pom('org.example', 'app', '1.0'), ('WEB-INF/lib/lib.jar', lib), ('WEB-INF/lib/bomb.jar', bomb)])
open('${dir}/app.war', 'wb').write(war)`,
    ]);
    const { packages, notes } = await readTree(mavenReader, dir);
    assert.deepEqual(
      packages.map((p) => `${p.path} ${p.purl}`).sort(),
      [
        'app.war!/META-INF/maven/org.example/app/pom.properties pkg:maven/org.example/app@1.0',
        'app.war!/WEB-INF/lib/lib.jar!/META-INF/maven/org.example/lib/pom.properties pkg:maven/org.example/lib@2.0',
        'app.war!/WEB-INF/lib/lib.jar!/lib/deep.jar!/META-INF/maven/org.example/deep/pom.properties pkg:maven/org.example/deep@4.0',
        'app.war!/WEB-INF/lib/lib.jar!/lib/inner.jar!/META-INF/maven/org.example/inner/pom.properties pkg:maven/org.example/inner@3.0',
      ].sort(),
    );
    assert.deepEqual(
      notes.map((n) => n.code),
      ['JAVA_ARCHIVE_UNREAD', 'JAVA_ARCHIVE_UNREAD'],
    );
    assert.ok(notes.some((n) => /bomb\.jar: compression ratio above 100:1/.test(n.message)));
    assert.ok(notes.some((n) => /too-deep\.jar: nested deeper than 3 archives/.test(n.message)));
  });

  it('says which archive it could not open rather than reporting nothing silently', async () => {
    const dir = path.join(work, 'broken');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'broken.jar'), 'PK not really a zip');
    const { packages, notes } = await readTree(mavenReader, dir);
    assert.deepEqual(packages, []);
    assert.deepEqual(
      notes.map((n) => [n.code, n.path]),
      [['JAVA_ARCHIVE_UNREAD', 'broken.jar']],
    );
    assert.match(notes[0]!.message, /not a readable zip/);
  });

  it('holds a large archive in the temporary directory and removes it afterwards', async () => {
    const jar = '/usr/share/java/commons-io.jar';
    const spill = path.join(work, 'spill');
    await mkdir(spill, { recursive: true });
    const notes: unknown[] = [];
    const found = await pomPropertiesInArchive(
      { path: 'commons-io.jar', size: 0, mode: 0o644, layer: TREE_LAYER },
      createReadStream(jar),
      { note: (n) => notes.push(n), tempDir: async () => spill },
      { ...DEFAULT_ARCHIVE_LIMITS, inMemoryBytes: 1024 },
    );
    assert.deepEqual(notes, []);
    assert.ok(found.some((f) => f.path.startsWith('commons-io.jar!/META-INF/maven/commons-io/commons-io/')));
    assert.deepEqual(await readdir(spill), []);
  });

  it('names a pom.properties without coordinates', async () => {
    const { packages, notes } = await readFiles(mavenReader, {
      'opt/app/META-INF/maven/org.example/app/pom.properties':
        '#Generated by Maven\ngroupId=org.example\nartifactId=app\n',
      'opt/app/META-INF/maven/org.example/lib/pom.properties': 'groupId=org.example\nartifactId=lib\nversion=1.0\n',
    });
    assert.deepEqual(
      packages.map((p) => p.purl),
      ['pkg:maven/org.example/lib@1.0'],
    );
    assert.deepEqual(
      notes.map((n) => n.message),
      [
        'opt/app/META-INF/maven/org.example/app/pom.properties:1: pom.properties without groupId, artifactId and version',
      ],
    );
  });
});
