import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MINIMAL, expectValid, problemAt, problemsOf } from './fixtures.ts';

const withNotifications = (block: string) => `${MINIMAL}  notifications:\n${block}`;

describe('notification channels', () => {
  it('accepts a signing secret reference on a webhook channel and keeps it unresolved', () => {
    const policy = expectValid(
      withNotifications(
        '    - { name: cmdb, kind: webhook, url: env:CMDB_URL, secret: file:hmac.key, events: ["*"] }\n' +
          '    - { name: chat, kind: slack, url: env:SLACK_URL, events: [gate.failed] }\n',
      ),
    );
    assert.deepEqual(policy.notifications, [
      { name: 'cmdb', kind: 'webhook', url: 'env:CMDB_URL', secret: 'file:hmac.key', events: ['*'] },
      { name: 'chat', kind: 'slack', url: 'env:SLACK_URL', events: ['gate.failed'] },
    ]);
  });

  it('rejects a secret on a slack channel, pointing at the key', () => {
    const text = withNotifications(
      '    - { name: chat, kind: slack, url: env:SLACK_URL, secret: env:HMAC, events: [gate.failed] }\n',
    );
    const p = problemAt(problemsOf(text), 'spec.notifications[0].secret');
    assert.equal(p.found, 'kind: slack');
    assert.match(p.message, /`secret` .* only applies to `webhook` channels/);
    assert.equal(p.line, text.split('\n').length - 1);
  });

  it('rejects an inline secret without repeating it', () => {
    const SECRET = 'hmac-Pa55-w0rd';
    const problems = problemsOf(
      withNotifications(`    - { name: cmdb, kind: webhook, url: env:CMDB_URL, secret: "${SECRET}", events: ["*"] }\n`),
    );
    assert.doesNotMatch(JSON.stringify(problems), new RegExp(SECRET));
    const p = problemAt(problems, 'spec.notifications[0].secret');
    assert.equal(p.found, 'an inline value (not shown)');
    assert.match(p.message, /secrets must not be written into the policy file/);
  });
});
