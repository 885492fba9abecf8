/**
 * ServiceNowClient against a local server that answers like the ServiceNow Table API
 * (ServiceNow/ServiceNowDocs, `api-reference/rest-apis/c_TableAPI.md`, "Table - GET
 * /now/table/{tableName}"): `{"result": [ {...} ]}` with string values, `{"result": []}` for a
 * query without matches, date-times `YYYY-MM-DD HH:mm:ss` in UTC when display values are off.
 * Records carry the change_request fields of `change-management-api.md` (`approval`:
 * not requested | requested | approved | rejected; `state` as the change model's integer;
 * `start_date`, `end_date`). Errors use the documented body
 * `{"error": {"message", "detail"}, "status": "failure"}` (`c_CustomWebServices.md`), with the
 * texts ServiceNow documents: 401 "User Not Authenticated" / "Required to provide Auth
 * information" (`ap-invoice-api.md`), 403 "Failed API level ACL Validation" (same page), 429
 * "Rate limit exceeded" + Retry-After (`inbound-REST-API-rate-limiting.md`), 500 "Exception
 * while executing request: null" (`cmdb-instance-api.md`).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isSluiceError, type SluiceError } from '../../../src/errors.ts';
import {
  ServiceNowClient,
  decideChange,
  parseChangeNumber,
  parseServiceNowDateTime,
} from '../../../src/integrations/servicenow.ts';
import {
  closedPortOrigin,
  startFakeServer,
  type Answer,
  type FakeServer,
  type Received,
} from '../notify/fake-server.ts';

const USER = 'sluice.integration';
const PASSWORD = 'sn-Pa55w0rd!';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

interface Row {
  number: string;
  sys_id: string;
  state: string;
  approval: string;
  start_date: string;
  end_date: string;
  short_description: string;
}

const row = (number: string, approval: string, start: string, end: string, state = '-2'): Row => ({
  number,
  sys_id: `${number.slice(3).padStart(8, '0')}c0a8016401c5a33be04be441`.slice(0, 32),
  state,
  approval,
  start_date: start,
  end_date: end,
  short_description: `Promote acme/api (${number})`,
});

const RECORDS = new Map<string, Row>(
  [
    row('CHG0030001', 'approved', '2026-11-21 22:00:00', '2026-11-21 23:00:00'),
    row('CHG0030002', 'requested', '2026-11-21 22:00:00', '2026-11-21 23:00:00', '-3'),
    row('CHG0030003', 'rejected', '2026-11-21 22:00:00', '2026-11-21 23:00:00', '4'),
    row('CHG0030004', 'approved', '', ''),
    row('CHG0030005', 'approved', '2026-11-21 23:30:00', '2026-11-22 01:30:00'),
    row('CHG0030006', 'not requested', '', '', '-5'),
  ].map((r) => [r.number, r]),
);

const failure = (message: string, detail: string) => JSON.stringify({ error: { message, detail }, status: 'failure' });

/** The Table API: looks the number up from `sysparm_query=number=...`. */
function tableApi(req: Received): Answer {
  if (req.headers.authorization !== BASIC) {
    return {
      status: 401,
      headers: { 'content-type': 'application/json' },
      body: failure('User Not Authenticated', 'Required to provide Auth information'),
    };
  }
  const url = new URL(req.url, 'http://x');
  if (url.pathname !== '/api/now/table/change_request') return { status: 400, body: failure('Invalid path', '') };
  const m = /^number=(CHG\d+)$/.exec(url.searchParams.get('sysparm_query') ?? '');
  const found = m ? RECORDS.get(m[1]!) : undefined;
  return {
    status: 200,
    headers: { 'content-type': 'application/json;charset=UTF-8', 'x-total-count': found ? '1' : '0' },
    body: JSON.stringify({ result: found ? [found] : [] }),
  };
}

const servers: FakeServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function instance(handler: (req: Received, i: number) => Answer = tableApi) {
  const server = await startFakeServer(handler);
  servers.push(server);
  const client = new ServiceNowClient({ url: `${server.origin}/`, credentials: `${USER}:${PASSWORD}` });
  return { server, client };
}

async function rejection(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    assert.ok(isSluiceError(err), `expected a SluiceError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

function assertNoCredentials(err: SluiceError): void {
  const text = JSON.stringify({ message: err.message, ...err.toJSON() });
  for (const s of [PASSWORD, BASIC.slice(6)]) assert.ok(!text.includes(s), `leaked credentials: ${text}`);
}

const AT = new Date('2026-11-21T22:30:00Z');

describe('ServiceNowClient: the request', () => {
  it('queries the Table API for one change_request by number, with Basic auth and JSON', async () => {
    const { server, client } = await instance();
    await client.check('CHG0030001', AT);
    assert.equal(server.received.length, 1);
    const req = server.received[0]!;
    assert.equal(req.method, 'GET');
    const url = new URL(req.url, 'http://x');
    assert.equal(url.pathname, '/api/now/table/change_request');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      sysparm_query: 'number=CHG0030001',
      sysparm_fields: 'number,sys_id,state,approval,start_date,end_date,short_description',
      sysparm_limit: '1',
      sysparm_display_value: 'false',
    });
    assert.equal(req.headers.accept, 'application/json');
    assert.equal(req.headers.authorization, BASIC);
  });

  it('sends a bare token as Bearer', async () => {
    const server = await startFakeServer(() => ({ status: 200, body: '{"result":[]}' }));
    servers.push(server);
    await new ServiceNowClient({ url: server.origin, credentials: 'oauth-access-token-xyz' }).check('CHG1', AT);
    assert.equal(server.received[0]!.headers.authorization, 'Bearer oauth-access-token-xyz');
  });

  for (const bad of [
    'CHG0030001^ORnumber!=x',
    'CHG0030001^active=true',
    'number=CHG1',
    'CHG1 x',
    'CHG',
    'chg0030001',
    'INC0010001',
    'CHG1%5E',
  ]) {
    it(`rejects ${JSON.stringify(bad)} before any request`, async () => {
      const { server, client } = await instance();
      const err = await rejection(client.check(bad, AT));
      assert.equal(err.code, 'CHANGE_NUMBER_INVALID');
      assert.equal(err.category, 'invalid-input');
      assert.equal(server.received.length, 0);
    });
  }

  it('explains what is wrong with a change number', () => {
    assert.throws(() => parseChangeNumber('CHG0030001^ORnumber=CHG0030002'), /contains query operators/);
    assert.throws(() => parseChangeNumber('INC0010001'), /expected CHG followed by digits/);
    assert.equal(parseChangeNumber(' CHG0030001 '), 'CHG0030001');
  });
});

describe('ServiceNowClient: decisions', () => {
  it('accepts an approved change inside its planned window', async () => {
    const { server, client } = await instance();
    const d = await client.check('CHG0030001', AT);
    assert.deepEqual(d, {
      number: 'CHG0030001',
      accepted: true,
      approved: true,
      inWindow: true,
      state: '-2',
      approval: 'approved',
      plannedStart: new Date('2026-11-21T22:00:00Z'),
      plannedEnd: new Date('2026-11-21T23:00:00Z'),
      shortDescription: 'Promote acme/api (CHG0030001)',
      url: `${server.origin}/nav_to.do?uri=change_request.do?sys_id=${RECORDS.get('CHG0030001')!.sys_id}`,
      reason: 'CHG0030001 is approved and within its planned window 2026-11-21 22:00–23:00 UTC',
    });
  });

  it('treats the window as [start, end): the start counts, the end does not', async () => {
    const { client } = await instance();
    assert.equal((await client.check('CHG0030001', new Date('2026-11-21T22:00:00Z'))).accepted, true);
    const end = await client.check('CHG0030001', new Date('2026-11-21T23:00:00Z'));
    assert.equal(end.accepted, false);
    assert.equal(end.reason, 'CHG0030001 is approved but its planned window 2026-11-21 22:00–23:00 UTC has ended');
  });

  it('refuses an approved change before its window starts and after it ends', async () => {
    const { client } = await instance();
    const early = await client.check('CHG0030001', new Date('2026-11-21T21:59:59Z'));
    assert.deepEqual([early.approved, early.inWindow, early.accepted], [true, false, false]);
    assert.equal(
      early.reason,
      'CHG0030001 is approved but its planned window 2026-11-21 22:00–23:00 UTC has not started',
    );
    const late = await client.check('CHG0030001', new Date('2026-11-22T08:00:00Z'));
    assert.equal(late.reason, 'CHG0030001 is approved but its planned window 2026-11-21 22:00–23:00 UTC has ended');
    const overnight = await client.check('CHG0030005', AT);
    assert.equal(
      overnight.reason,
      'CHG0030005 is approved but its planned window 2026-11-21 23:30 – 2026-11-22 01:30 UTC has not started',
    );
  });

  it('refuses requested, rejected and not-requested changes, even inside the window', async () => {
    const { client } = await instance();
    const requested = await client.check('CHG0030002', AT);
    assert.deepEqual([requested.approved, requested.inWindow, requested.accepted], [false, true, false]);
    assert.equal(requested.reason, 'CHG0030002 is not approved (approval: requested)');
    assert.equal(requested.state, '-3');
    assert.equal((await client.check('CHG0030003', AT)).reason, 'CHG0030003 is not approved (approval: rejected)');
    assert.equal((await client.check('CHG0030006', AT)).reason, 'CHG0030006 is not approved (approval: not requested)');
  });

  it('refuses an approved change without a planned window', async () => {
    const { client } = await instance();
    const d = await client.check('CHG0030004', AT);
    assert.equal(d.accepted, false);
    assert.equal(d.plannedStart, undefined);
    assert.equal(d.reason, 'CHG0030004 is approved but has no planned window (start_date and end_date not set)');
  });

  it('reports a change that does not exist (empty result)', async () => {
    const { client } = await instance();
    const d = await client.check('CHG0099999', AT);
    assert.deepEqual(
      { ...d },
      {
        number: 'CHG0099999',
        accepted: false,
        approved: false,
        inWindow: false,
        state: '',
        approval: '',
        url: `${client.baseUrl}/change_request_list.do?sysparm_query=number%3DCHG0099999`,
        reason: 'no change request CHG0099999 found',
      },
    );
  });

  it('decides without I/O too', () => {
    const d = decideChange('https://acme.service-now.com', 'CHG1', undefined, AT);
    assert.equal(d.reason, 'no change request CHG1 found');
  });
});

describe('ServiceNowClient: documented errors', () => {
  it('401: names the instance and ServiceNow’s message, never the credentials', async () => {
    const server = await startFakeServer(tableApi);
    servers.push(server);
    const client = new ServiceNowClient({ url: server.origin, credentials: `${USER}:wrong-${PASSWORD}` });
    const err = await rejection(client.check('CHG0030001', AT));
    assert.equal(err.code, 'SERVICENOW_UNAUTHORIZED');
    assert.equal(err.category, 'unauthorized');
    assert.equal(err.context.httpStatus, 401);
    assert.equal(
      err.message,
      `ServiceNow ${new URL(server.origin).host} rejected the credentials (HTTP 401: User Not Authenticated: Required to provide Auth information)`,
    );
    assertNoCredentials(err);
    assert.ok(!err.message.includes('wrong-'));
  });

  const cases: Array<[number, string, string, string, RegExp, Record<string, string>?]> = [
    [
      403,
      failure('Failed API level ACL Validation', 'User does not have read/write access to the resource'),
      'SERVICENOW_FORBIDDEN',
      'forbidden',
      /refused to read change_request \(HTTP 403: Failed API level ACL Validation: User does not have read\/write access to the resource\)/,
    ],
    [
      404,
      failure('Not found', 'The requested resource was not found'),
      'SERVICENOW_NOT_FOUND',
      'not-found',
      /check changeManagement\.url/,
    ],
    [
      429,
      failure('Rate limit exceeded', 'Rate limit of 100 requests per hour for Table API exceeded'),
      'SERVICENOW_UNAVAILABLE',
      'unavailable',
      /rate-limited the request \(HTTP 429: Rate limit exceeded: Rate limit of 100 requests per hour/,
      { 'retry-after': '1800' },
    ],
    [
      500,
      failure(
        'Exception while executing request: null',
        'Exception while executing request: null Check logs for error trace or enable glide.rest.debug property to verify REST request processing',
      ),
      'SERVICENOW_UNAVAILABLE',
      'unavailable',
      /failed \(HTTP 500: Exception while executing request: null: Exception while executing/,
    ],
    [503, '<html>Service Unavailable</html>', 'SERVICENOW_UNAVAILABLE', 'unavailable', /failed \(HTTP 503\)$/],
  ];
  for (const [status, body, code, category, message, headers] of cases) {
    it(`${status}: ${code} (${category})`, async () => {
      const { client } = await instance(() => ({
        status,
        headers: { 'content-type': 'application/json', ...headers },
        body,
      }));
      const err = await rejection(client.check('CHG0030001', AT));
      assert.equal(err.code, code);
      assert.equal(err.category, category);
      assert.equal(err.context.httpStatus, status);
      assert.match(err.message, message);
      if (headers) assert.equal(err.context.retryAfterMs, 1_800_000);
      assertNoCredentials(err);
    });
  }

  it('refuses malformed JSON, a body without result, and a record for another number', async () => {
    for (const [body, what] of [
      ['<html><body>Log in</body></html>', /HTTP 200 with a body that is not JSON/],
      ['{"result": ', /not JSON/],
      ['{"records": []}', /without a `result` list/],
      [JSON.stringify({ result: [RECORDS.get('CHG0030002')] }), /record CHG0030002 for a query for CHG0030001/],
      [
        JSON.stringify({ result: [{ ...RECORDS.get('CHG0030001'), start_date: '21/11/2026 22:00' }] }),
        /`start_date` "21\/11\/2026 22:00"/,
      ],
      [
        JSON.stringify({ result: [{ ...RECORDS.get('CHG0030001'), approval: { value: 'approved' } }] }),
        /`approval` that is not a string/,
      ],
      [
        JSON.stringify({ result: [{ ...RECORDS.get('CHG0030001'), sys_id: '../../x' }] }),
        /`sys_id` that is not 32 hex digits/,
      ],
    ] as const) {
      const { client } = await instance(() => ({ status: 200, headers: { 'content-type': 'application/json' }, body }));
      const err = await rejection(client.check('CHG0030001', AT));
      assert.equal(err.code, 'SERVICENOW_BAD_RESPONSE');
      assert.equal(err.category, 'integrity');
      assert.match(err.message, what);
    }
  });

  it('does not follow a redirect with the credentials', async () => {
    const { server, client } = await instance((req) =>
      req.url.startsWith('/sso')
        ? { status: 200, body: '{"result":[]}' }
        : { status: 302, headers: { location: '/sso/login' } },
    );
    const err = await rejection(client.check('CHG0030001', AT));
    assert.equal(err.code, 'SERVICENOW_REDIRECT');
    assert.equal(server.received.length, 1);
  });

  it('times out, and reports an unreachable instance by errno', async () => {
    const hanging = await startFakeServer(() => 'hang');
    servers.push(hanging);
    const slow = new ServiceNowClient({ url: hanging.origin, credentials: `${USER}:${PASSWORD}`, timeoutMs: 100 });
    const t = await rejection(slow.check('CHG0030001', AT));
    assert.equal(t.code, 'SERVICENOW_UNAVAILABLE');
    assert.match(t.message, /no answer within 0\.1 s$/);

    const down = new ServiceNowClient({ url: await closedPortOrigin(), credentials: `${USER}:${PASSWORD}` });
    const e = await rejection(down.check('CHG0030001', AT));
    assert.match(e.message, /the request failed \(ECONNREFUSED\)$/);
    assertNoCredentials(e);
  });
});

describe('ServiceNowClient: configuration', () => {
  it('refuses plain http to a remote host, user info and non-http URLs', () => {
    const make = (url: string) => () => new ServiceNowClient({ url, credentials: `${USER}:${PASSWORD}` });
    assert.throws(make('http://acme.service-now.com'), /plain http/);
    assert.throws(make(`https://${USER}:${PASSWORD}@acme.service-now.com`), (err: unknown) => {
      return isSluiceError(err, 'SERVICENOW_URL_INVALID') && !err.message.includes(PASSWORD);
    });
    assert.throws(make('ftp://acme.service-now.com'), /must be https/);
    assert.equal(
      new ServiceNowClient({ url: 'https://acme.service-now.com/', credentials: 't' }).baseUrl,
      'https://acme.service-now.com',
    );
  });

  it('reports an unreadable CA file by path and errno', async () => {
    const client = new ServiceNowClient({
      url: 'https://acme.service-now.com',
      credentials: `${USER}:${PASSWORD}`,
      caFile: '/nonexistent/servicenow-ca.pem',
    });
    const err = await rejection(client.check('CHG0030001', AT));
    assert.equal(err.code, 'SERVICENOW_CA_UNREADABLE');
    assert.match(err.message, /\/nonexistent\/servicenow-ca\.pem for ServiceNow \(ENOENT\)/);
  });

  it('resolves the policy credentials reference', async () => {
    const { server } = await instance();
    const client = await ServiceNowClient.fromPolicy(
      { kind: 'servicenow', url: server.origin, credentials: 'env:SNOW_CREDENTIALS' },
      { env: { SNOW_CREDENTIALS: JSON.stringify({ username: USER, password: PASSWORD }) } },
    );
    assert.equal((await client.check('CHG0030001', AT)).accepted, true);
  });

  it('parses ServiceNow date-times as UTC and rejects impossible ones', () => {
    assert.deepEqual(parseServiceNowDateTime('2026-11-21 22:00:00'), new Date('2026-11-21T22:00:00Z'));
    assert.equal(parseServiceNowDateTime(''), undefined);
    assert.ok(Number.isNaN(parseServiceNowDateTime('2026-02-30 10:00:00')!.getTime()));
    assert.ok(Number.isNaN(parseServiceNowDateTime('2026-11-21T22:00:00Z')!.getTime()));
  });
});
