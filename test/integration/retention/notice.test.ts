/** Notice mode: owners are told first, the deletion happens only after the notice period. */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { buildImage, pushImage, skopeoListTags } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { actorFromPolicy } from '../../../src/auth/actor.ts';
import { applyPlan } from '../../../src/retention/apply.ts';
import { gatherRetentionInput } from '../../../src/retention/gather.ts';
import { planRetention } from '../../../src/retention/plan.ts';
import { openRuntime } from '../../../src/runtime.ts';

const DAY = 86_400_000;
let reg: RegistryHandle;
let ws: Workspace;
let hook: http.Server;
const events: Array<{ type: string; data: Record<string, unknown> }> = [];

describeEachEngine('retention notice mode', (engine) => {
  before(async () => {
    events.length = 0;
    reg = await startRegistry();
    hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        events.push(JSON.parse(body));
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      env: { HOOK_URL: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/` },
      edit: (doc) => {
        const stages = doc.getIn(['spec', 'stages']) as { items: Array<{ set: (k: string, v: unknown) => void }> };
        stages.items[1]!.set('retention', { mode: 'notice', noticeDays: 7, maxAge: '30d', keepLast: 1 });
        doc.setIn(
          ['spec', 'notifications'],
          [{ name: 'owners', kind: 'webhook', url: 'env:HOOK_URL', events: ['retention.notice', 'retention.applied'] }],
        );
      },
    });
  });
  after(async () => {
    await ws?.cleanup();
    await reg?.stop();
    hook?.close();
  });

  async function applyAt(offset: number) {
    const rt = await openRuntime({
      configPath: ws.configPath,
      env: { ...process.env, ...ws.env },
      clock: () => new Date(Date.now() + offset),
    });
    try {
      const plan = planRetention(await gatherRetentionInput(rt), { scope: { stage: 'staging' } });
      return await applyPlan(rt, actorFromPolicy(rt.policy, 'dave'), plan);
    } finally {
      await rt.close();
    }
  }

  test('the first apply announces, the one after the notice period deletes', async () => {
    await pushImage(await buildImage({ layers: 1 }), reg, 'acme-staging/web:1.0.0-1');
    await pushImage(await buildImage({ layers: 1 }), reg, 'acme-staging/web:1.1.0-2');
    assert.equal((await ws.cli(['sync'])).code, 0);

    const first = await applyAt(40 * DAY);
    const item = first.repositories[0]!.items[0]!;
    assert.equal(item.outcome, 'noticed');
    assert.match(item.detail, /announced; deleted after/);
    const notice = events.find((e) => e.type === 'dev.sluice.retention.notice');
    assert.ok(notice, 'owners were notified');
    assert.equal(notice!.data.team, 'acme');
    assert.equal(notice!.data.contact, 'acme-platform@example.com');
    assert.deepEqual(await skopeoListTags(reg, 'acme-staging/web').then((t) => t.sort()), ['1.0.0-1', '1.1.0-2']);

    const tooEarly = await applyAt(44 * DAY);
    assert.equal(tooEarly.repositories[0]!.items[0]!.outcome, 'noticed');
    assert.equal(events.filter((e) => e.type === 'dev.sluice.retention.notice').length, 1, 'announced once');

    const later = await applyAt(48 * DAY);
    assert.equal(later.repositories[0]!.items[0]!.outcome, 'deleted');
    assert.deepEqual(await skopeoListTags(reg, 'acme-staging/web'), ['1.1.0-2']);
    assert.ok(events.some((e) => e.type === 'dev.sluice.retention.applied'));
  });
});
