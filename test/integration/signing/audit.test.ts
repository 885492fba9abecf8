/** In a workspace (a policy file), every signature created or verified lands in the audit log. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildImage, pushImage } from '../../helpers/images.ts';
import { startRegistry, type RegistryHandle } from '../../helpers/registry.ts';
import { createWorkspace, type Workspace } from '../../helpers/workspace.ts';
import { describeEachEngine } from '../../helpers/db.ts';
import { listAudit, verifyAudit } from '../../../src/audit/index.ts';

const PASSWORD = 'audit-test-password';
let reg: RegistryHandle;
let ws: Workspace;

describeEachEngine('signing in a workspace', (engine) => {
  before(async () => {
    reg = await startRegistry();
    ws = await createWorkspace({
      engine,
      registries: [{ name: 'local', url: reg.url }],
      env: { SLUICE_SIGNING_PASSWORD: PASSWORD },
    });
  });
  after(async () => {
    await ws?.cleanup();
    await reg?.stop();
  });

  test('sign and verify are audited with the acting user, never with key material', async () => {
    const { digest } = await pushImage(await buildImage({ layers: 1 }), reg, 'acme-prod/app:1.0.0-1');
    const prefix = path.join(ws.dir, 'release');
    assert.equal((await ws.cli(['keygen', '--output-key-prefix', prefix])).code, 0);
    const signed = await ws.cli(['sign', `${reg.host}/acme-prod/app:1.0.0-1`, '--key', `${prefix}.key`], {
      SLUICE_USER: 'dave',
    });
    assert.equal(signed.code, 0, signed.stderr);
    const verified = await ws.cli(['verify', `${reg.host}/acme-prod/app:1.0.0-1`, '--key', `${prefix}.pub`], {
      SLUICE_USER: 'grace',
    });
    assert.equal(verified.code, 0, verified.stderr);
    const rt = await ws.runtime();
    const created = await listAudit(rt.store, { action: 'signature' });
    assert.equal(created.length, 1);
    assert.equal(created[0]!.actor, 'dave');
    assert.equal(created[0]!.digest, digest);
    assert.equal(created[0]!.result, 'success');
    const checks = await listAudit(rt.store, { action: 'signature.verify' });
    assert.equal(checks[0]!.actor, 'grace');
    const all = JSON.stringify(await listAudit(rt.store, {}));
    assert.ok(!all.includes(PASSWORD) && !all.includes('PRIVATE KEY'));
    assert.equal((await verifyAudit(rt.store)).ok, true);
  });
});
