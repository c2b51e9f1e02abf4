import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, freshStorage, startTestServer, type TestStorage } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { WebhookReceiver, eventually } from '../../../test/webhook-receiver.ts';

// Fast retries, so that an outage of a second is several attempts.
const fastRetries = { retryBaseMs: 100, maxDelayMs: 400, pollIntervalMs: 100 };

describe.each(databaseKinds())('webhooks on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(kind, { webhooks: fastRetries });
    api = client(server.url);
  });
  afterAll(() => server?.stop());
  afterEach(() => receiver?.stop());

  async function appWithReceiver() {
    receiver = await new WebhookReceiver().start();
    const created = await api.post('/v1/apps', { name: 'Hooked', callback_url: receiver.url });
    expect(created.status).toBe(201);
    // Its first event, app.created, is delivered and recorded; each test starts from an empty receiver.
    const [first] = await receiver.waitFor(1);
    const event = JSON.parse(first!.body);
    expect(event).toMatchObject({ type: 'app.created', data: { app_id: created.body.app_id, callback_url: receiver.url } });
    expect(event.data).not.toHaveProperty('app_secret');
    expect(event.data).not.toHaveProperty('webhook_secret');
    await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries?app_id=${created.body.app_id}`);
      return reply.body.data[0]?.status === 'delivered' ? true : undefined;
    });
    receiver.received.length = 0;
    return created.body;
  }

  it('POSTs app.updated with a Standard Webhooks signature that an independent library verifies', async () => {
    const app = await appWithReceiver();
    const patched = await api.patch(`/v1/apps/${app.app_id}`, { name: 'Renamed' });
    expect(patched.status).toBe(200);

    const [delivery] = await receiver.waitFor(1);
    const event = new Webhook(app.webhook_secret).verify(delivery!.body, {
      'webhook-id': String(delivery!.headers['webhook-id']),
      'webhook-timestamp': String(delivery!.headers['webhook-timestamp']),
      'webhook-signature': String(delivery!.headers['webhook-signature']),
    }) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(event.type).toBe('app.updated');
    expect(Date.parse(event.timestamp)).not.toBeNaN();
    expect(event.data).toMatchObject({ app_id: app.app_id, name: 'Renamed' });
    expect(event.data).not.toHaveProperty('app_secret');
    expect(event.data).not.toHaveProperty('webhook_secret');
    expect(delivery!.headers['content-type']).toBe('application/json');

    // A signature made with another secret does not verify.
    const otherSecret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(() =>
      new Webhook(otherSecret).verify(delivery!.body, {
        'webhook-id': String(delivery!.headers['webhook-id']),
        'webhook-timestamp': String(delivery!.headers['webhook-timestamp']),
        'webhook-signature': String(delivery!.headers['webhook-signature']),
      }),
    ).toThrow();

    const log = await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}`);
      return reply.body.data[0]?.status === 'delivered' ? reply.body : undefined;
    });
    expect(log.data[0]).toMatchObject({
      id: delivery!.headers['webhook-id'],
      app_id: app.app_id,
      event_type: 'app.updated',
      attempts: 1,
      last_status_code: 200,
    });
  });

  it('retries while the receiver is down and delivers once it is back', async () => {
    const app = await appWithReceiver();
    const port = receiver.port;
    await receiver.stop();
    await api.patch(`/v1/apps/${app.app_id}`, { challenge_default_message: 'Approve?' });

    const failing = await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}`);
      const delivery = reply.body.data[0];
      return delivery?.attempts >= 2 ? delivery : undefined;
    });
    expect(failing.status).toBe('pending');
    expect(failing.last_error).toMatch(/ECONNREFUSED/);

    receiver = new WebhookReceiver();
    receiver.port = port;
    await receiver.start();
    const [delivery] = await receiver.waitFor(1);
    expect(JSON.parse(delivery!.body).data.challenge_default_message).toBe('Approve?');
    await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries/${failing.id}`);
      return reply.body.status === 'delivered' ? true : undefined;
    });
  });

  it('retries a receiver that answers 500, and every attempt carries the same webhook-id', async () => {
    const app = await appWithReceiver();
    receiver.status = 500;
    await api.patch(`/v1/apps/${app.app_id}`, { name: 'Flaky' });
    await receiver.waitFor(2);
    receiver.status = 204;
    const all = await receiver.waitFor(3);
    expect(new Set(all.map((request) => request.headers['webhook-id'])).size).toBe(1);
    const delivery = await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}&status=delivered&event_type=app.updated`);
      return reply.body.data[0];
    });
    expect(delivery.attempts).toBeGreaterThanOrEqual(3);
    expect(delivery.last_status_code).toBe(204);
  });

  it('shows an app only its own deliveries, and retries one on request', async () => {
    const app = await appWithReceiver();
    const other = (await api.post('/v1/apps', { name: 'Other', callback_url: receiver.url })).body;
    await api.patch(`/v1/apps/${app.app_id}`, { name: 'Mine' });
    await api.patch(`/v1/apps/${other.app_id}`, { name: 'Theirs' });
    await receiver.waitFor(2);

    // Received is not yet recorded: wait until the log shows the delivery done, so that the retry's attempt count is exact.
    const own = await eventually(async () => {
      const reply = await api.get('/v1/webhook-deliveries', { as: { app } });
      return reply.body.data[0]?.status === 'delivered' ? reply : undefined;
    });
    expect(own.status).toBe(200);
    expect(own.body.data.length).toBeGreaterThan(0);
    expect(own.body.data.every((d: { app_id: string }) => d.app_id === app.app_id)).toBe(true);
    // Naming another app does not widen an app's view.
    const widened = await api.get(`/v1/webhook-deliveries?app_id=${other.app_id}`, { as: { app } });
    expect(widened.body.data.every((d: { app_id: string }) => d.app_id === app.app_id)).toBe(true);

    const theirs = (await api.get(`/v1/webhook-deliveries?app_id=${other.app_id}`)).body.data[0];
    expect((await api.get(`/v1/webhook-deliveries/${theirs.id}`, { as: { app } })).status).toBe(404);
    expect((await api.post(`/v1/webhook-deliveries/${theirs.id}/retry`, undefined, { as: { app } })).status).toBe(404);

    const mine = own.body.data[0];
    const before = receiver.received.length;
    const retried = await api.post(`/v1/webhook-deliveries/${mine.id}/retry`, undefined, { as: { app } });
    expect(retried.status).toBe(200);
    expect(retried.body.status).toBe('delivered');
    expect(retried.body.attempts).toBe(mine.attempts + 1);
    expect(receiver.received.length).toBe(before + 1);
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(mine.id);

    // A resend of a delivered event that fails leaves it delivered (with the failure shown), out of the automatic retries.
    receiver.status = 500;
    try {
      const failed = await api.post(`/v1/webhook-deliveries/${mine.id}/retry`, undefined, { as: { app } });
      expect(failed.body).toMatchObject({ status: 'delivered', attempts: mine.attempts + 2, last_status_code: 500, next_attempt_at: null });
      expect(failed.body.delivered_at).not.toBeNull();
    } finally {
      receiver.status = 200;
    }
  });

  it('gives up on a receiver that trickles its answer, and keeps delivering to the others', async () => {
    const { createServer } = await import('node:http');
    const trickling = createServer((_request, response) => {
      response.writeHead(200, { 'content-length': '100000' });
      const timer = setInterval(() => response.write('x'), 200);
      response.on('close', () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => trickling.listen(0, '127.0.0.1', resolve));
    const port = (trickling.address() as { port: number }).port;
    const slowServer = await startTestServer(kind, { webhooks: { ...fastRetries, requestTimeoutMs: 1_000 } });
    try {
      const slowApi = client(slowServer.url);
      const slow = (await slowApi.post('/v1/apps', { name: 'Slow', callback_url: `http://127.0.0.1:${port}/` })).body;
      receiver = await new WebhookReceiver().start();
      const fine = (await slowApi.post('/v1/apps', { name: 'Fine', callback_url: receiver.url })).body;
      await slowApi.patch(`/v1/apps/${slow.app_id}`, { name: 'Slow 2' });
      // Let the slow delivery's pass start alone; the next pass must not wait for it forever.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await slowApi.patch(`/v1/apps/${fine.app_id}`, { name: 'Fine 2' });
      await receiver.waitFor(1, 5_000);
      const stalled = await eventually(async () => {
        const reply = await slowApi.get(`/v1/webhook-deliveries?app_id=${slow.app_id}`);
        return reply.body.data[0]?.attempts >= 1 ? reply.body.data[0] : undefined;
      });
      // The status came back in time, so the attempt counts as delivered without waiting for the body.
      expect(['delivered', 'pending']).toContain(stalled.status);
    } finally {
      await slowServer.stop();
      trickling.closeAllConnections();
      await new Promise((resolve) => trickling.close(resolve));
    }
  });

  it('writes no delivery for an app without a callback_url', async () => {
    const app = (await api.post('/v1/apps', { name: 'Silent' })).body;
    await api.patch(`/v1/apps/${app.app_id}`, { name: 'Still silent' });
    expect((await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}`)).body.data).toEqual([]);
  });

  it('validates the delivery log query', async () => {
    const reply = await api.get('/v1/webhook-deliveries?status=lost');
    expect(reply.status).toBe(400);
    expect(reply.body.error.details.field).toBe('querystring.status');
    expect((await api.get('/v1/webhook-deliveries/msg_unknown')).status).toBe(404);
  });
});

describe.each(databaseKinds())('webhook durability on %s', (kind) => {
  let storage: TestStorage;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    storage = await freshStorage(kind);
  });
  afterAll(async () => {
    await receiver?.stop();
    await storage?.drop();
  });

  it('delivers after a restart what was still pending when the server stopped', async () => {
    receiver = await new WebhookReceiver().start();
    const port = receiver.port;
    await receiver.stop();

    const first = await startTestServer(kind, { storage, webhooks: fastRetries });
    const api = client(first.url);
    const app = (await api.post('/v1/apps', { name: 'Durable', callback_url: `http://127.0.0.1:${port}/hooks` })).body;
    await api.patch(`/v1/apps/${app.app_id}`, { name: 'Durable 2' });
    await eventually(async () => {
      const reply = await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}`);
      return reply.body.data[0]?.attempts >= 1 ? true : undefined;
    });
    await first.stop();

    receiver = new WebhookReceiver();
    receiver.port = port;
    await receiver.start();
    const second = await startTestServer(kind, { storage, webhooks: fastRetries });
    try {
      // Both events the first server could not deliver: app.created and app.updated.
      const events = (await receiver.waitFor(2)).map((delivery) => JSON.parse(delivery.body));
      expect(events.find((event) => event.type === 'app.created')).toMatchObject({ data: { app_id: app.app_id } });
      expect(events.find((event) => event.type === 'app.updated')).toMatchObject({ data: { name: 'Durable 2' } });
    } finally {
      await second.stop();
    }
  });

  it('marks a delivery failed once its retry window has passed', async () => {
    const server = await startTestServer(kind, {
      storage,
      webhooks: { ...fastRetries, retryWindowMs: 500 },
    });
    try {
      const api = client(server.url);
      const app = (await api.post('/v1/apps', { name: 'Gone', callback_url: 'http://127.0.0.1:9/closed' })).body;
      await api.patch(`/v1/apps/${app.app_id}`, { name: 'Gone 2' });
      const failed = await eventually(async () => {
        const reply = await api.get(`/v1/webhook-deliveries?app_id=${app.app_id}&status=failed`);
        return reply.body.data[0];
      });
      expect(failed.attempts).toBeGreaterThanOrEqual(1);
      expect(failed.next_attempt_at).toBeNull();
    } finally {
      await server.stop();
    }
  });
});
