import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDistributionEnvelope, parseHarborWebhook, parseQuayNotification } from '../../../src/inventory/events.ts';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

// Shapes follow distribution/distribution notifications/event.go and docs/content/about/notifications.md.
const distributionPush = {
  events: [
    {
      id: 'asdf-asdf-asdf-asdf-0',
      timestamp: '2026-11-20T10:00:00.000Z',
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        size: 708,
        digest: D1,
        length: 708,
        repository: 'acme-dev/api',
        url: 'http://127.0.0.1:5000/v2/acme-dev/api/manifests/' + D1,
        tag: '1.4.0-7',
      },
      request: { id: 'r1', addr: '127.0.0.1:1', host: '127.0.0.1:5000', method: 'PUT', useragent: 'skopeo/1.9.3' },
      actor: { name: 'alice' },
      source: { addr: 'reg:5000', instanceID: 'i1' },
    },
    {
      id: 'asdf-asdf-asdf-asdf-1',
      timestamp: '2026-11-20T10:00:00.000Z',
      action: 'push',
      target: {
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        size: 10,
        digest: D2,
        repository: 'acme-dev/api',
      },
      request: { method: 'PUT' },
    },
    {
      id: 'del-1',
      timestamp: '2026-11-20T11:00:00Z',
      action: 'delete',
      target: { digest: D1, repository: 'acme-dev/api' },
    },
    {
      id: 'pull-1',
      timestamp: '2026-11-20T12:00:00Z',
      action: 'pull',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, repository: 'acme-dev/api' },
      request: { method: 'GET', useragent: 'containerd/1.7' },
    },
    {
      id: 'pull-2',
      timestamp: '2026-11-20T12:00:00Z',
      action: 'pull',
      target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, repository: 'acme-dev/api' },
      request: { method: 'HEAD', useragent: 'sluice/0.1' },
    },
  ],
};

describe('Distribution envelope', () => {
  it('keeps manifest events and deletes, drops blob events and our own HEADs', () => {
    const events = parseDistributionEnvelope(distributionPush);
    assert.deepEqual(
      events.map((e) => [e.id, e.action, e.tag ?? null]),
      [
        ['asdf-asdf-asdf-asdf-0', 'push', '1.4.0-7'],
        ['del-1', 'delete', null],
        ['pull-1', 'pull', null],
      ],
    );
    assert.equal(events[0]!.actor, 'alice');
    assert.equal(events[0]!.host, '127.0.0.1:5000');
    assert.equal(events[0]!.at.toISOString(), '2026-11-20T10:00:00.000Z');
  });
  it('rejects forged shapes with a reason', () => {
    assert.throws(() => parseDistributionEnvelope({}), /\{"events"/);
    assert.throws(
      () => parseDistributionEnvelope({ events: [{ id: 'x', action: 'explode', target: {} }] }),
      /action "explode"/,
    );
    assert.throws(
      () =>
        parseDistributionEnvelope({
          events: [{ id: 'x', action: 'push', target: { repository: '../etc', digest: D1 } }],
        }),
      /not a valid repository/,
    );
    assert.throws(
      () =>
        parseDistributionEnvelope({
          events: [{ id: 'x', action: 'delete', target: { repository: 'a/b', digest: 'sha256:../../x' } }],
        }),
      /not a valid digest/,
    );
    assert.throws(() => parseDistributionEnvelope({ events: Array.from({ length: 1001 }, () => ({})) }), /1001 events/);
  });
});

describe('Quay notifications', () => {
  it('turns repo_push into one push per tag, without digests', () => {
    const events = parseQuayNotification({
      repository: 'acme-dev/api',
      namespace: 'acme-dev',
      name: 'api',
      docker_url: 'quay.example/acme-dev/api',
      homepage: 'https://quay.example/repository/acme-dev/api',
      updated_tags: ['1.0.0-1', 'dev'],
    });
    assert.deepEqual(
      events.map((e) => [e.action, e.tag, e.digest]),
      [
        ['push', '1.0.0-1', undefined],
        ['push', 'dev', undefined],
      ],
    );
    assert.equal(events[0]!.host, 'quay.example');
  });
  it('accepts the old tag→image map shape', () => {
    const events = parseQuayNotification({ repository: 'a/b', updated_tags: { latest: 'abc' }, pushed_image_count: 1 });
    assert.equal(events[0]!.tag, 'latest');
  });
});

describe('Harbor webhooks', () => {
  const eventData = {
    resources: [{ digest: D1, tag: '1.0.0-1', resource_url: 'harbor.example/acme-dev/api:1.0.0-1' }],
    repository: {
      date_created: 1700000000,
      name: 'api',
      namespace: 'acme-dev',
      repo_full_name: 'acme-dev/api',
      repo_type: 'private',
    },
  };
  it('reads the Default format', () => {
    const [e] = parseHarborWebhook({
      type: 'PUSH_ARTIFACT',
      occur_at: 1763632800,
      operator: 'admin',
      event_data: eventData,
    });
    assert.equal(e!.action, 'push');
    assert.equal(e!.digest, D1);
    assert.equal(e!.host, 'harbor.example');
    assert.equal(e!.at.getTime(), 1763632800_000);
  });
  it('reads the CloudEvents format', () => {
    const [e] = parseHarborWebhook({
      specversion: '1.0',
      id: 'b2b1c1ae-1',
      source: '/projects/1/webhook/policies/2',
      type: 'harbor.artifact.deleted',
      time: '2026-11-20T10:00:00Z',
      datacontenttype: 'application/json',
      operator: 'admin',
      data: eventData,
    });
    assert.equal(e!.action, 'delete');
    assert.equal(e!.id, 'harbor:b2b1c1ae-1:0');
  });
  it('reads scan summaries and ignores unknown types', () => {
    const [e] = parseHarborWebhook({
      type: 'SCANNING_COMPLETED',
      occur_at: 1,
      event_data: {
        ...eventData,
        resources: [
          {
            digest: D1,
            scan_overview: {
              'application/vnd.security.vulnerability.report; version=1.1': {
                scan_status: 'Success',
                severity: 'Critical',
                summary: { total: 3, summary: { Critical: 1, High: 2 } },
              },
            },
          },
        ],
      },
    });
    assert.deepEqual(e!.scan, { severity: 'Critical', status: 'Success', counts: { critical: 1, high: 2 } });
    assert.deepEqual(parseHarborWebhook({ type: 'QUOTA_WARNING', event_data: eventData }), []);
  });
  it('treats a digest in the tag field (pull by digest) as no tag', () => {
    const [e] = parseHarborWebhook({
      type: 'PULL_ARTIFACT',
      occur_at: 1,
      event_data: { ...eventData, resources: [{ digest: D1, tag: D1 }] },
    });
    assert.equal(e!.tag, undefined);
  });
  it('takes a type that Object.prototype knows as an unknown type', () => {
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.deepEqual(parseHarborWebhook({ type, occur_at: 1, event_data: eventData }), [], type);
    }
  });
  it('keeps a scanner severity named __proto__ as a count', () => {
    const [e] = parseHarborWebhook({
      type: 'SCANNING_COMPLETED',
      occur_at: 1,
      event_data: {
        ...eventData,
        resources: [{ digest: D1, scan_overview: { r: { summary: { summary: JSON.parse('{"__proto__": 4}') } } } }],
      },
    });
    assert.deepEqual(Object.entries(e!.scan!.counts!), [['__proto__', 4]]);
  });
});

describe('tags in notifications', () => {
  it('refuses a tag that is no tag: too long, or outside the grammar', () => {
    const long = 'a'.repeat(129);
    const withTag = (tag: string) => ({
      events: [{ ...distributionPush.events[0], target: { ...distributionPush.events[0]!.target, tag } }],
    });
    assert.throws(
      () => parseDistributionEnvelope(withTag(long)),
      /events\[0\]\.target\.tag "a{80}" is not a valid tag/,
    );
    assert.throws(() => parseDistributionEnvelope(withTag('x\u001b[2J')), /is not a valid tag/);
    assert.throws(
      () => parseQuayNotification({ repository: 'acme-dev/api', updated_tags: ['ok', long] }),
      /updated_tags\[1\]/,
    );
    assert.throws(
      () =>
        parseHarborWebhook({
          type: 'PUSH_ARTIFACT',
          occur_at: 1,
          event_data: { repository: { repo_full_name: 'acme-dev/api' }, resources: [{ digest: D1, tag: '-x' }] },
        }),
      /resources\[0\]\.tag "-x" is not a valid tag/,
    );
    assert.equal(parseDistributionEnvelope(withTag('a'.repeat(128)))[0]!.tag, 'a'.repeat(128));
  });
});

describe('what an event names is checked before it is looked up or stored', () => {
  const badTags = ['1.0.0-1\u0000', '../../v2', '-leading-dash', 'x'.repeat(129), 'a\ud800'];
  it('refuses a tag no registry could hold, in every format', () => {
    for (const tag of badTags) {
      assert.throws(
        () =>
          parseDistributionEnvelope({
            events: [{ id: 'x', action: 'push', target: { repository: 'acme-dev/api', digest: D1, tag } }],
          }),
        (e: Error) => /events\[0\]\.target\.tag .* is not a valid tag/.test(e.message) && !e.message.includes('\u0000'),
        JSON.stringify(tag),
      );
      assert.throws(
        () => parseQuayNotification({ repository: 'acme-dev/api', updated_tags: ['1.0.0-1', tag] }),
        /updated_tags\[1\] .* is not a valid tag/,
        JSON.stringify(tag),
      );
      assert.throws(
        () =>
          parseHarborWebhook({
            type: 'PUSH_ARTIFACT',
            event_data: { repository: { repo_full_name: 'acme-dev/api' }, resources: [{ digest: D1, tag }] },
          }),
        /resources\[0\]\.tag .* is not a valid tag/,
        JSON.stringify(tag),
      );
    }
    const [ok] = parseDistributionEnvelope({
      events: [{ id: 'x', action: 'push', target: { repository: 'acme-dev/api', digest: D1, tag: 'v1.2_rc-3' } }],
    });
    assert.equal(ok!.tag, 'v1.2_rc-3');
  });
  it('takes a timestamp beyond the range of a date as the arrival time', () => {
    const now = new Date('2026-11-20T10:00:00Z');
    const [d] = parseDistributionEnvelope(
      { events: [{ id: 'x', action: 'delete', timestamp: 1e20, target: { repository: 'a/b', digest: D1 } }] },
      now,
    );
    assert.equal(d!.at.getTime(), now.getTime());
    const [h] = parseHarborWebhook(
      {
        type: 'PULL_ARTIFACT',
        occur_at: 1e20,
        event_data: { repository: { repo_full_name: 'a/b' }, resources: [{ digest: D1 }] },
      },
      now,
    );
    assert.equal(h!.at.getTime(), now.getTime());
  });
});

describe('payload fields named like Object.prototype members', () => {
  it('refuses a distribution action named constructor, toString or __proto__', () => {
    for (const action of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.throws(
        () => parseDistributionEnvelope({ events: [{ ...distributionPush.events[0]!, action }] }),
        new RegExp(`events\\[0\\]\\.action "${action}" is not push, pull, mount or delete`),
        action,
      );
    }
  });

  it('takes Quay tags from the payload own keys only, __proto__ included', () => {
    const body = JSON.parse('{"repository": "acme-dev/api", "updated_tags": {"__proto__": "x", "constructor": "y"}}');
    const events = parseQuayNotification(body, new Date(0));
    assert.deepEqual(events.map((e) => e.tag).sort(), ['__proto__', 'constructor']);
  });
});
