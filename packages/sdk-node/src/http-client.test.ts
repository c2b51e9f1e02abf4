import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendJson, startHttpStub, type HttpStub, type StubHandler } from '../test/http-stub.ts';
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
