import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lockLost } from '../../../src/promotion/interrupted.ts';
import { describeOwner } from '../../../src/promotion/records.ts';

const NOW = Date.UTC(2026, 10, 21, 12);
const alive = () => false;
const dead = () => true;

describe('lockLost: when a running promotion attempt has lost its process', () => {
  it('no lock at all: interrupted', () => {
    assert.equal(lockLost(undefined, NOW, alive), 'no process holds its promotion lock');
  });
  it('a lock whose owner died on this host: interrupted, naming host:pid without the nonce', () => {
    assert.equal(
      lockLost({ owner: 'build-7:4242:3f9c-nonce', expires_at: NOW + 60_000 }, NOW, dead),
      'its process build-7:4242 is gone',
    );
  });
  it('a lock that expired unrenewed (its host is gone): interrupted', () => {
    assert.match(lockLost({ owner: 'elsewhere:1:n', expires_at: NOW - 1 }, NOW, alive) ?? '', /elsewhere:1 expired/);
  });
  it('a live, unexpired lock: still at work', () => {
    assert.equal(lockLost({ owner: 'elsewhere:1:n', expires_at: NOW + 1 }, NOW, alive), undefined);
  });
  it('describeOwner keeps host and pid only', () => {
    assert.equal(describeOwner('h:1:2:3'), 'h:1');
  });
});
