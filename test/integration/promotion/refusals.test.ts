/**
 * What a new user meets on the documented workflows: refusals are recorded like gate
 * refusals, an approval that would not count is refused when it is given (CLI and API), a
 * dry run refuses what the real run refuses, and verify-deployable labels its checks exactly.
 * The policy keeps one gate (preprod: a four-eyes QA approval) and makes prod manual.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createToken } from '../../../src/auth/index.ts';
import { ENGINES, POSTGRES_DISABLED, POSTGRES_SKIP_MESSAGE } from '../../helpers/db.ts';
import { buildImage, buildIndex, pushImage, skopeoDigest } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { call, startTestServer } from '../server/helpers.ts';

type Node = { items: Array<{ set: (k: string, v: unknown) => void; get: (k: string) => unknown }> };

let reg: RegistryHandle;
before(async () => {
  reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
});

function editPolicy(doc: Parameters<NonNullable<Parameters<typeof createWorkspace>[0]['edit']>>[0]): void {
  const stages = doc.getIn(['spec', 'stages']) as Node;
  for (const s of stages.items) {
    s.set('gate', { require: [] });
    s.set('trigger', 'manual');
  }
  stages.items[2]!.set('gate', {
    require: ['qa-approval'],
    approvals: [{ type: 'qa-approval', role: 'qa', quorum: 1, fourEyes: true }],
  });
  // A rebuild under the same version tag can reach preprod, so prod's immutability is what refuses it.
  stages.items[2]!.set('immutableTags', false);
  // quinn both requests promotions into preprod and approves them: the four-eyes case.
  doc.addIn(['spec', 'teams', 0, 'members'], { user: 'quinn', roles: ['qa', 'release-manager'] });
}

for (const engine of ENGINES) {
  describe(
    `refusals and dry runs [${engine}]`,
    { skip: engine === 'postgres' && POSTGRES_DISABLED ? POSTGRES_SKIP_MESSAGE : false },
    () => {
      let ws: Workspace;
      before(async () => {
        ws = await createWorkspace({ registries: [{ name: 'local', url: reg.url }], engine, edit: editPolicy });
      });
      after(async () => {
        await ws?.cleanup();
      });
      const as = (user: string, args: string[]) => ws.cli(args, { SLUICE_USER: user });
      const repoName = (name: string) => `${name}-${engine}`;

      async function toStaging(repo: string, tag: string): Promise<string> {
        const img = await buildImage({ layers: 1 });
        const { digest } = await pushImage(img, reg, `acme-dev/${repo}:${tag}`);
        for (const [user, stage] of [
          ['alice', 'dev'],
          ['bob', 'staging'],
        ] as const) {
          const r = await as(user, ['promote', `acme/${repo}:${tag}`, '--to', stage]);
          assert.equal(r.code, 0, r.stderr);
        }
        return digest;
      }

      async function toPreprod(repo: string, tag: string): Promise<string> {
        const digest = await toStaging(repo, tag);
        const approved = await as('bob', ['approve', `acme/${repo}:${tag}`, '--stage', 'preprod']);
        assert.equal(approved.code, 0, approved.stderr);
        const r = await as('carol', ['promote', `acme/${repo}:${tag}`, '--to', 'preprod']);
        assert.equal(r.code, 0, r.stderr);
        return digest;
      }

      test('an approval by the requester of the change is refused when given, with the reason (CLI)', async () => {
        const repo = repoName('foureyes');
        await toStaging(repo, '1.0.0-1');
        const refused = await as('quinn', ['promote', `acme/${repo}:1.0.0-1`, '--to', 'preprod']);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /qa-approval: missing/);

        const own = await as('quinn', ['approve', `acme/${repo}:1.0.0-1`, '--stage', 'preprod']);
        assert.equal(own.code, 1, own.stdout);
        assert.doesNotMatch(own.stdout, /approved/);
        assert.match(own.stderr, /quinn cannot approve their own change \(four eyes\)/);
        assert.match(own.stderr, /qa-approval needs another qa/);
        // A platform administrator passes the role check but the gate would ignore the approval.
        const admin = await as('frank', ['approve', `acme/${repo}:1.0.0-1`, '--stage', 'preprod']);
        assert.equal(admin.code, 1, admin.stdout);
        assert.match(admin.stderr, /frank does not hold role qa; the gate of preprod would not count/);

        const rt = await ws.runtime();
        const recorded = await rt.store.db
          .selectFrom('evidence')
          .select('recorded_by')
          .where('type', '=', 'qa-approval')
          .where('team', '=', 'acme')
          .execute();
        assert.deepEqual(recorded, [], 'nothing recorded for a refused approval');
        const denied = JSON.parse(
          (await ws.cli(['audit', 'ls', '--action', 'approval', '--result', 'denied', '-o', 'json'])).stdout,
        ) as Array<{ actor: string; reason: string }>;
        assert.ok(denied.some((d) => d.actor === 'quinn' && /four eyes/.test(d.reason)));

        assert.equal((await as('bob', ['approve', `acme/${repo}:1.0.0-1`, '--stage', 'preprod'])).code, 0);
        const promoted = await as('quinn', ['promote', `acme/${repo}:1.0.0-1`, '--to', 'preprod']);
        assert.equal(promoted.code, 0, promoted.stderr);
      });

      test('an approval by whoever recorded the build is refused when given (API)', async () => {
        const repo = repoName('foureyes-api');
        const digest = await toStaging(repo, '1.0.0-1');
        const ts = await startTestServer(ws);
        try {
          const tokenFor = async (name: string) =>
            (
              await createToken(
                ts.rt.store,
                { role: 'qa', teams: ['acme'], name },
                { actor: 'test', audit: ts.rt.audit, knownTeams: ['acme'] },
              )
            ).token;
          const builder = await tokenFor(`qa-builder-${engine}`);
          const build = await call(ts.url, 'POST', '/api/v1/evidence', {
            token: builder,
            body: { ref: `acme-staging/${repo}@${digest}`, type: 'build' },
          });
          assert.equal(build.status, 201, build.text);
          const own = await call(ts.url, 'POST', '/api/v1/approvals/preprod', {
            token: builder,
            body: { ref: `acme/${repo}:1.0.0-1` },
          });
          assert.equal(own.status, 403, own.text);
          assert.equal(own.json.error.code, 'FOUR_EYES');
          assert.match(own.json.error.message, /cannot approve their own change \(four eyes\)/);
          const other = await call(ts.url, 'POST', '/api/v1/approvals/preprod', {
            token: await tokenFor(`qa-reviewer-${engine}`),
            body: { ref: `acme/${repo}:1.0.0-1` },
          });
          assert.equal(other.status, 201, other.text);
        } finally {
          await ts.close();
        }
      });

      test('a refusal because a prod version tag would move is recorded, and the dry run refuses it too', async () => {
        const repo = repoName('immut');
        const first = await toPreprod(repo, '4.0.0-1');
        assert.equal((await as('dave', ['promote', `acme/${repo}:4.0.0-1`, '--to', 'prod'])).code, 0);
        const second = await toPreprod(repo, '4.0.0-1');
        assert.notEqual(first, second);

        const dry = await as('dave', ['promote', `acme/${repo}:4.0.0-1`, '--to', 'prod', '--dry-run']);
        assert.equal(dry.code, 1, dry.stdout);
        assert.match(dry.stdout, /would be refused: .*already points to sha256:.*never move/);
        assert.doesNotMatch(dry.stdout, /would copy/);
        const dryJson = await as('dave', [
          'promote',
          `acme/${repo}:4.0.0-1`,
          '--to',
          'prod',
          '--dry-run',
          '-o',
          'json',
        ]);
        assert.equal(dryJson.code, 1);
        const plan = JSON.parse(dryJson.stdout);
        assert.equal(plan.status, 'dry-run');
        assert.equal(plan.refused.code, 'TAG_IMMUTABLE');
        assert.equal(plan.gate.passed, true, 'the gate holds; the tag is what refuses');

        const prodRows = async () =>
          JSON.parse(
            (await ws.cli(['promotions', 'ls', '--repo', repo, '--stage', 'prod', '-o', 'json'])).stdout,
          ) as Array<{
            status: string;
            requested_by: string;
            digest: string;
            error: string | null;
          }>;
        assert.deepEqual(
          (await prodRows()).map((r) => r.status),
          ['succeeded'],
          'a dry run records nothing',
        );

        const real = await as('dave', ['promote', `acme/${repo}:4.0.0-1`, '--to', 'prod']);
        assert.equal(real.code, 1);
        assert.match(real.stderr, /already points to sha256:.*never move/);
        assert.equal(await skopeoDigest(reg, `acme-prod/${repo}:4.0.0-1`), first);

        const rows = await prodRows();
        assert.deepEqual(
          rows.map((r) => r.status),
          ['refused', 'succeeded'],
        );
        assert.equal(rows[0]!.requested_by, 'dave');
        assert.equal(rows[0]!.digest, second);
        assert.match(rows[0]!.error ?? '', /never move/);
        const denied = JSON.parse(
          (
            await ws.cli([
              'audit',
              'ls',
              '--action',
              'promotion',
              '--result',
              'denied',
              '--digest',
              second,
              '-o',
              'json',
            ])
          ).stdout,
        ) as Array<{ actor: string; reason: string; details: { to: string; code: string } }>;
        assert.equal(denied.length, 1, 'the refusal is audited');
        assert.equal(denied[0]!.actor, 'dave');
        assert.equal(denied[0]!.details.to, 'prod');
        assert.equal(denied[0]!.details.code, 'TAG_IMMUTABLE');
        assert.match(denied[0]!.reason, /never move/);
      });

      test('verify-deployable labels its checks without stray spaces, for an image and an index', async () => {
        const repo = repoName('labels');
        await pushImage(await buildImage({ layers: 1 }), reg, `acme-dev/${repo}:1.0.0-1`);
        await pushImage(await buildIndex({ layers: 1 }), reg, `acme-dev/${repo}:1.0.0-2`);
        const labels = async (tag: string) => {
          const r = await ws.cli(['-o', 'json', 'verify-deployable', `${reg.host}/acme-dev/${repo}:${tag}`]);
          assert.equal(r.code, 0, r.stdout + r.stderr);
          return (JSON.parse(r.stdout).checks as Array<{ check: string }>).map((c) => c.check);
        };
        assert.deepEqual(await labels('1.0.0-1'), ['manifest', 'blobs', 'not held']);
        const index = await labels('1.0.0-2');
        assert.ok(index.includes('blobs linux/amd64'), index.join('|'));
        assert.ok(index.includes('manifest linux/amd64'), index.join('|'));
        for (const label of index) assert.match(label, /^\S+( \S+)*$/, `label "${label}"`);
      });
    },
  );
}
