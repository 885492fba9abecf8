import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { test } from 'node:test';
import { defaultPolicy } from '../../../src/policy/index.ts';
import { cliActor, cliUserName } from '../../../src/auth/actor.ts';

test('the CLI acts as SLUICE_USER, else the OS user, with the roles the policy gives that name', () => {
  assert.equal(cliUserName({ SLUICE_USER: 'bob' }), 'bob');
  assert.equal(cliUserName({ SLUICE_USER: '' }), userInfo().username, 'an empty SLUICE_USER is unset');
  assert.equal(cliUserName({}), userInfo().username);
  const bob = cliActor(defaultPolicy(), { SLUICE_USER: 'bob' });
  assert.equal(bob.name, 'bob');
  assert.deepEqual(bob.rolesFor('acme'), ['qa']);
  assert.deepEqual(cliActor(defaultPolicy(), { SLUICE_USER: 'nobody-listed' }).rolesFor('acme'), []);
});
