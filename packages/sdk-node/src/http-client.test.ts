import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendJson, startHttpStub, type HttpStub, type RecordedRequest, type StubHandler } from '../test/http-stub.ts';
import { failure } from '../test/failures.ts';
import { Tessera } from './tessera.ts';
import { TesseraAdmin } from './tessera-admin.ts';

// Retries, timeouts and transport failures need a server that misbehaves on cue: a stub over real HTTP.
// What the real server answers is covered in tessera-admin.test.ts and tessera.test.ts.

const createdApp = { app_id: 'app_stub', app_secret: 'sk_stub', webhook_secret: 'whsec_c3R1Yg==' };
const unavailable = (retryAfter?: string): StubHandler => (_request, response) =>
  sendJson(
    response,
    503,
    { error: { code: 'service_unavailable', message: 'Down for a moment.' } },
    retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  );

let stub: HttpStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

async function adminOn(handler: StubHandler, timeoutMs?: number) {
  stub = await startHttpStub(handler);
  return { stub, admin: new TesseraAdmin({ baseUrl: stub.url, adminToken: 'tok', timeoutMs }) };
}

describe('creating calls', () => {
  it('retries once on a 503 with the same Idempotency-Key, which the SDK made up', async () => {
    const { stub, admin } = await adminOn((request, response, index) =>
      index === 0 ? unavailable('0')(request, response, index) : sendJson(response, 201, createdApp),
    );
    await expect(admin.apps.create({ name: 'Shop' })).resolves.toEqual(createdApp);
    expect(stub.requests).toHaveLength(2);
    const [first, second] = stub.requests.map((request) => request.headers['idempotency-key']);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(second).toBe(first);
    expect(stub.requests[1]?.body.toString()).toBe(stub.requests[0]?.body.toString());
  });

  it("sends the caller's Idempotency-Key, and a new one for each call otherwise", async () => {
    const { stub, admin } = await adminOn((_request, response) => sendJson(response, 201, createdApp));
    await admin.apps.create({ name: 'Shop' }, { idempotencyKey: 'order-42' });
    await admin.apps.create({ name: 'Shop' });
    await admin.apps.create({ name: 'Shop' });
    const keys = stub.requests.map((request) => request.headers['idempotency-key']);
    expect(keys[0]).toBe('order-42');
    expect(new Set(keys).size).toBe(3);
  });

  it('retries once on a network error with the same key', async () => {
    const { stub, admin } = await adminOn((_request, response, index) =>
      index === 0 ? response.socket?.destroy() : sendJson(response, 200, { app_secret: 'sk_new' }),
    );
    await expect(admin.apps.rotateSecret('app_1', { idempotencyKey: 'rotate-1' })).resolves.toEqual({
      app_secret: 'sk_new',
    });
    expect(stub.requests.map((request) => request.headers['idempotency-key'])).toEqual(['rotate-1', 'rotate-1']);
  });

  it('retries only once: a second 503 reaches the caller with its Retry-After', async () => {
    const { stub, admin } = await adminOn(unavailable('0'));
    const error = await failure(admin.apps.create({ name: 'Shop' }));
    expect(stub.requests).toHaveLength(2);
    expect(error).toMatchObject({ code: 'service_unavailable', status: 503, retryAfter: 0 });
  });

  it('waits as long as Retry-After says before the retry', async () => {
    const times: number[] = [];
    const { admin } = await adminOn((request, response, index) => {
      times.push(Date.now());
      return index === 0 ? unavailable('1')(request, response, index) : sendJson(response, 201, createdApp);
    });
    await admin.apps.create({ name: 'Shop' });
    expect(times).toHaveLength(2);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
  });

  it('does not wait out a Retry-After longer than 5 seconds: the caller gets it', async () => {
    const { stub, admin } = await adminOn(unavailable('30'));
    const error = await failure(admin.apps.create({ name: 'Shop' }));
    expect(stub.requests).toHaveLength(1);
    expect(error.retryAfter).toBe(30);
  });

  it.each([400, 409, 422, 429, 500, 502])('never retries a %i', async (status) => {
    const { stub, admin } = await adminOn((_request, response) =>
      sendJson(response, status, { error: { code: `code_${status}`, message: 'No.' } }, { 'retry-after': '0' }),
    );
    const error = await failure(admin.apps.create({ name: 'Shop' }));
    expect(stub.requests).toHaveLength(1);
    expect(error).toMatchObject({ code: `code_${status}`, status, message: 'No.' });
  });
});

describe('other calls', () => {
  it('retries a GET once on a 503', async () => {
    const { stub, admin } = await adminOn((request, response, index) =>
      index === 0 ? unavailable()(request, response, index) : sendJson(response, 200, { data: [], has_more: false }),
    );
    await expect(admin.apps.list()).resolves.toEqual({ data: [], has_more: false });
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests[0]?.headers['idempotency-key']).toBeUndefined();
  });

  it('never retries an update, a delete or a webhook resend, nor sends them an Idempotency-Key', async () => {
    const { stub, admin } = await adminOn(unavailable('0'));
    await failure(admin.apps.update('app_1', { name: 'New' }));
    await failure(admin.apps.patch('app_1', [{ op: 'remove', path: '/callback_url' }]));
    await failure(admin.apps.delete('app_1'));
    await failure(admin.webhookDeliveries.retry('msg_1'));
    expect(stub.requests.map((request) => request.method)).toEqual(['PATCH', 'PATCH', 'DELETE', 'POST']);
    expect(stub.requests.every((request) => request.headers['idempotency-key'] === undefined)).toBe(true);
  });

  it('does not retry a GET on a network error', async () => {
    const { stub, admin } = await adminOn((_request, response) => response.socket?.destroy());
    const error = await failure(admin.apps.retrieve('app_1'));
    expect(error).toMatchObject({ code: 'network_error', status: 0 });
    expect(stub.requests).toHaveLength(1);
  });
});

describe('transport failures', () => {
  it('turns a refused connection into network_error with status 0', async () => {
    const port = await closedPort();
    const admin = new TesseraAdmin({ baseUrl: `http://127.0.0.1:${port}`, adminToken: 'tok' });
    const error = await failure(admin.apps.list());
    expect(error).toMatchObject({ code: 'network_error', status: 0 });
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('gives up after timeoutMs with code timeout and status 0, without retrying', async () => {
    const { stub, admin } = await adminOn(() => {}, 200);
    const started = Date.now();
    const error = await failure(admin.apps.create({ name: 'Slow' }));
    expect(error).toMatchObject({ code: 'timeout', status: 0 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(stub.requests).toHaveLength(1);
  });

  it('names an answer that is not a Tessera error body by its status', async () => {
    const { admin } = await adminOn((_request, response, index) => {
      response.writeHead(index === 0 ? 502 : 503, { 'content-type': 'text/html' });
      response.end('<h1>Bad gateway</h1>');
    });
    const badGateway = await failure(admin.apps.retrieve('app_1'));
    expect(badGateway).toMatchObject({ code: 'unexpected_response', status: 502 });
    expect(badGateway.details).toEqual({ body: '<h1>Bad gateway</h1>' });
    // A 503 without a body is still the catalog's service_unavailable (its only code).
    const unavailableError = await failure(admin.apps.retrieve('app_1'));
    expect(unavailableError).toMatchObject({ code: 'service_unavailable', status: 503 });
  });

  it('refuses a 2xx whose body is not JSON', async () => {
    const { admin } = await adminOn((_request, response) => response.end('not json'));
    expect(await failure(admin.apps.retrieve('app_1'))).toMatchObject({ code: 'unexpected_response', status: 200 });
  });
});

describe('requests', () => {
  it('keeps the path of the base URL, encodes ids and names query parameters as the API does', async () => {
    stub = await startHttpStub((_request, response) => sendJson(response, 200, { data: [], has_more: false }));
    const admin = new TesseraAdmin({ baseUrl: `${stub.url}/tessera/`, adminToken: 'tok' });
    await admin.apps.list({ limit: 2, startingAfter: 'app_9' });
    await admin.webhookDeliveries.list({ appId: 'app_1', status: 'failed', eventType: 'app.updated' });
    await admin.apps.retrieve('a/b?c');
    expect(stub.requests.map((request) => request.url)).toEqual([
      '/tessera/v1/apps?limit=2&starting_after=app_9',
      '/tessera/v1/webhook-deliveries?status=failed&event_type=app.updated&app_id=app_1',
      '/tessera/v1/apps/a%2Fb%3Fc',
    ]);
    expect(stub.requests[0]?.headers.authorization).toBe('Bearer tok');
  });

  it('sends Basic app credentials, and each patch with its media type', async () => {
    stub = await startHttpStub((_request, response) => sendJson(response, 200, {}));
    const app = new Tessera({ baseUrl: stub.url, appId: 'app_1', appSecret: 'sk_x' });
    await app.apps.retrieve();
    expect(stub.requests[0]?.url).toBe('/v1/apps/app_1');
    expect(stub.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('app_1:sk_x').toString('base64')}`);

    const admin = new TesseraAdmin({ baseUrl: stub.url, adminToken: 'tok' });
    await admin.apps.update('app_1', { callback_url: null });
    await admin.apps.patch('app_1', [{ op: 'replace', path: '/name', value: 'B' }]);
    expect(stub.requests[1]?.headers['content-type']).toBe('application/merge-patch+json');
    expect(JSON.parse(stub.requests[1]!.body.toString())).toEqual({ callback_url: null });
    expect(stub.requests[2]?.headers['content-type']).toBe('application/json-patch+json');
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('second-factor calls', () => {
  const answer: StubHandler = (request, response) =>
    request.method === 'GET' && request.url.endsWith('/factors')
      ? sendJson(response, 200, { data: [{ factor_id: 'fac_1' }] })
      : request.method === 'DELETE'
        ? response.writeHead(204).end()
        : sendJson(response, 200, { ok: true });
  const appOn = async (handler: StubHandler, timeoutMs?: number) => {
    stub = await startHttpStub(handler);
    return { stub, tessera: new Tessera({ baseUrl: stub.url, appId: 'app_1', appSecret: 'sk_x', timeoutMs }) };
  };
  const bodyOf = (request: RecordedRequest | undefined) =>
    request && request.body.length > 0 ? (JSON.parse(request.body.toString()) as unknown) : undefined;

  it('sends each call to its route, ids encoded, options in the API’s snake_case', async () => {
    const { stub, tessera } = await appOn(answer);
    const userId = 'a/b ü?#';
    const encoded = 'a%2Fb%20%C3%BC%3F%23';
    await tessera.users.retrieve(userId);
    await tessera.users.upsert(userId, { email: 'a@example.com', display_name: null });
    await tessera.users.delete(userId);
    await tessera.factors.enrollTotp(userId, { algorithm: 'SHA256', digits: 8, period: 60, name: 'Phone' });
    await tessera.factors.importTotp(userId, { secret: 'JBSWY3DPEHPK3PXP', code: '123456' });
    await tessera.factors.activate('fac/1', '654321');
    expect(await tessera.factors.list(userId)).toEqual([{ factor_id: 'fac_1' }]);
    await tessera.factors.retrieve('fac_1');
    await tessera.factors.delete('fac_1');
    await tessera.recoveryCodes.generate(userId);
    await tessera.challenges.create(userId, {
      factorId: 'fac_1',
      type: 'totp',
      referenceId: 'order-1',
      message: 'Pay?',
      details: { amount: 1 },
      hiddenDetails: { cart: 2 },
      expiresIn: 60,
    });
    await tessera.challenges.create(userId);
    await tessera.challenges.verify('chl_1', '111111');
    await tessera.challenges.retrieve('chl_1');
    await tessera.challenges.retrieve('chl_1', { waitSeconds: 25 });

    expect(stub.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      `GET /v1/users/${encoded}`,
      `PUT /v1/users/${encoded}`,
      `DELETE /v1/users/${encoded}`,
      `POST /v1/users/${encoded}/factors`,
      `POST /v1/users/${encoded}/factors`,
      'POST /v1/factors/fac%2F1/activate',
      `GET /v1/users/${encoded}/factors`,
      'GET /v1/factors/fac_1',
      'DELETE /v1/factors/fac_1',
      `POST /v1/users/${encoded}/recovery-codes`,
      `POST /v1/users/${encoded}/challenges`,
      `POST /v1/users/${encoded}/challenges`,
      'POST /v1/challenges/chl_1/verify',
      'GET /v1/challenges/chl_1',
      'GET /v1/challenges/chl_1?wait=25',
    ]);
    const [, upsert, , enroll, importing, activate, , , , recovery, create, createEmpty, verify] = stub.requests;
    expect(bodyOf(upsert)).toEqual({ email: 'a@example.com', display_name: null });
    expect(bodyOf(enroll)).toEqual({ type: 'totp', algorithm: 'SHA256', digits: 8, period: 60, name: 'Phone' });
    expect(bodyOf(importing)).toEqual({ type: 'totp', secret: 'JBSWY3DPEHPK3PXP', code: '123456' });
    expect(bodyOf(activate)).toEqual({ code: '654321' });
    expect(bodyOf(recovery)).toBeUndefined();
    expect(bodyOf(create)).toEqual({
      factor_id: 'fac_1',
      type: 'totp',
      reference_id: 'order-1',
      message: 'Pay?',
      details: { amount: 1 },
      hidden_details: { cart: 2 },
      expires_in: 60,
    });
    expect(bodyOf(createEmpty)).toEqual({});
    expect(bodyOf(verify)).toEqual({ code: '111111' });

    // Creating calls carry an Idempotency-Key; the others none.
    const keyed = stub.requests.filter((request) => request.headers['idempotency-key'] !== undefined);
    expect(keyed).toEqual([enroll, importing, recovery, create, createEmpty]);
  });

  it('retries enroll, recovery codes and challenge creation once on a 503 with the same key', async () => {
    const { stub, tessera } = await appOn((request, response, index) =>
      index % 2 === 0 ? unavailable('0')(request, response, index) : sendJson(response, 201, { ok: true }),
    );
    await tessera.factors.enrollTotp('u1', {}, { idempotencyKey: 'enroll-1' });
    await tessera.recoveryCodes.generate('u1');
    await tessera.challenges.create('u1', {}, { idempotencyKey: 'challenge-1' });
    const keys = stub.requests.map((request) => request.headers['idempotency-key']);
    expect(keys).toHaveLength(6);
    expect(keys.slice(0, 2)).toEqual(['enroll-1', 'enroll-1']);
    expect(keys[3]).toBe(keys[2]);
    expect(keys.slice(4)).toEqual(['challenge-1', 'challenge-1']);
  });

  it('never retries a verify or an activation, after a 503 nor after a network error', async () => {
    let { stub, tessera } = await appOn(unavailable('0'));
    expect(await failure(tessera.challenges.verify('chl_1', '123456'))).toMatchObject({ status: 503 });
    expect(await failure(tessera.factors.activate('fac_1', '123456'))).toMatchObject({ status: 503 });
    expect(stub.requests).toHaveLength(2);
    await stub.close();
    ({ stub, tessera } = await appOn((_request, response) => response.socket?.destroy()));
    expect(await failure(tessera.challenges.verify('chl_1', '123456'))).toMatchObject({ code: 'network_error' });
    expect(await failure(tessera.factors.activate('fac_1', '123456'))).toMatchObject({ code: 'network_error' });
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests.every((request) => request.headers['idempotency-key'] === undefined)).toBe(true);
  });

  it('gives a long-poll more time than its wait, beyond the client timeout', async () => {
    const { tessera } = await appOn((_request, response) => {
      setTimeout(() => sendJson(response, 200, { status: 'pending' }), 1_200);
    }, 300);
    await expect(tessera.challenges.retrieve('chl_1', { waitSeconds: 1 })).resolves.toEqual({ status: 'pending' });
    expect(await failure(tessera.challenges.retrieve('chl_1'))).toMatchObject({ code: 'timeout', status: 0 });
  });

  it('waitForResult reads again with waits of at most 60 s until the status is no longer pending', async () => {
    const times: number[] = [];
    const { stub, tessera } = await appOn((_request, response, index) => {
      times.push(Date.now());
      // A proxy that cuts long-polls short: the first two reads come back at once, still pending.
      sendJson(response, 200, { challenge_id: 'chl_1', status: index < 2 ? 'pending' : 'denied' });
    });
    const result = await tessera.challenges.waitForResult('chl_1', { timeoutSeconds: 150 });
    expect(result).toEqual({ challenge_id: 'chl_1', status: 'denied' });
    expect(stub.requests.map((request) => request.url)).toEqual([
      '/v1/challenges/chl_1?wait=60',
      '/v1/challenges/chl_1?wait=60',
      '/v1/challenges/chl_1?wait=60',
    ]);
    // Reads that come back early are spaced out rather than sent in a tight loop.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(950);
  });

  it('waitForResult waits no longer than timeoutSeconds, and reads once for 0', async () => {
    const { stub, tessera } = await appOn((_request, response) => sendJson(response, 200, { status: 'pending' }));
    expect(await tessera.challenges.waitForResult('chl_1', { timeoutSeconds: 0 })).toEqual({ status: 'pending' });
    expect(stub.requests.map((request) => request.url)).toEqual(['/v1/challenges/chl_1?wait=0']);
    const started = Date.now();
    expect(await tessera.challenges.waitForResult('chl_1', { timeoutSeconds: 1.5 })).toEqual({ status: 'pending' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(stub.requests.slice(1).map((request) => request.url)[0]).toBe('/v1/challenges/chl_1?wait=2');
    await expect(tessera.challenges.waitForResult('chl_1', { timeoutSeconds: Number.NaN })).rejects.toBeInstanceOf(TypeError);
  });
});
