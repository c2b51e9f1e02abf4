import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { databaseKinds, startTestServer, testAdminToken, type TestServer } from '../../server/test/harness.ts';
import { startHttpStub, type HttpStub, type RecordedRequest } from '../test/http-stub.ts';
import { failure, webhookRejection } from '../test/failures.ts';
import { Tessera, TesseraAdmin, verifyWebhook, type App, type WebhookEvent } from './index.ts';

describe.each(databaseKinds())('Tessera (app client) against a real server on %s', (kind) => {
  let server: TestServer & { stop(): Promise<void> };
  let admin: TesseraAdmin;
  let receiver: HttpStub;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = new TesseraAdmin({ baseUrl: server.url, adminToken: testAdminToken });
    receiver = await startHttpStub((_request, response) => response.writeHead(204).end());
  });
  afterAll(async () => {
    await receiver?.close();
    await server?.stop();
  });

  const clientFor = (app: { app_id: string; app_secret: string; webhook_secret?: string }) =>
    new Tessera({ baseUrl: server.url, appId: app.app_id, appSecret: app.app_secret, webhookSecret: app.webhook_secret });

  /** The app.updated webhooks the receiver got about one app, in order (each app's first event, app.created, aside). */
  const webhooksOf = (appId: string): RecordedRequest[] =>
    receiver.requests.filter((request) => request.body.includes(`"app_id":"${appId}"`) && request.body.includes('"type":"app.updated"'));

  it('retrieves its own app with its credentials, and no other', async () => {
    const created = await admin.apps.create({ name: 'Self' });
    const other = await admin.apps.create({ name: 'Other' });
    const app = await clientFor(created).apps.retrieve();
    expect(app).toEqual(await admin.apps.retrieve(created.app_id));
    expect(app).not.toHaveProperty('app_secret');

    // An app client is bound to its own id: credentials of another app are simply wrong for it.
    const mixed = new Tessera({ baseUrl: server.url, appId: created.app_id, appSecret: other.app_secret });
    expect(await failure(mixed.apps.retrieve())).toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('gets 401 unauthorized for a wrong secret and for an unknown app', async () => {
    const created = await admin.apps.create({ name: 'Wrong secret' });
    const wrong = clientFor({ app_id: created.app_id, app_secret: 'sk_wrong' });
    expect(await failure(wrong.apps.retrieve())).toMatchObject({ code: 'unauthorized', status: 401 });
    const unknown = clientFor({ app_id: 'app_unknown', app_secret: created.app_secret });
    expect(await failure(unknown.webhookDeliveries.list())).toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('gets 403 app_inactive while its app is deactivated', async () => {
    const created = await admin.apps.create({ name: 'Sleepy' });
    const tessera = clientFor(created);
    await admin.apps.update(created.app_id, { active: false });
    const error = await failure(tessera.apps.retrieve());
    expect(error).toMatchObject({ code: 'app_inactive', status: 403 });
    await admin.apps.update(created.app_id, { active: true });
    expect((await tessera.apps.retrieve()).active).toBe(true);
  });

  it('verifies a real app.updated webhook from the server, and refuses it altered', async () => {
    const created = await admin.apps.create({ name: 'Hooked', callback_url: `${receiver.url}/hooks` });
    await admin.apps.patch(created.app_id, [{ op: 'replace', path: '/name', value: 'Hooked 2' }]);
    await vi.waitFor(() => expect(webhooksOf(created.app_id)).toHaveLength(1), { timeout: 10_000, interval: 50 });
    const [delivery] = webhooksOf(created.app_id);
    const { headers, body } = delivery!;
    expect(headers['content-type']).toBe('application/json');

    const tessera = clientFor(created);
    const event: WebhookEvent<App> = tessera.webhooks.verify<App>(headers, body);
    expect(event.type).toBe('app.updated');
    expect(Date.parse(event.timestamp)).not.toBeNaN();
    expect(event.data).toMatchObject({ app_id: created.app_id, name: 'Hooked 2' });
    expect(event.data).not.toHaveProperty('app_secret');
    expect(event.data).not.toHaveProperty('webhook_secret');
    // The standalone function agrees, and also takes the body as a string.
    expect(verifyWebhook(created.webhook_secret, headers, body.toString('utf8'))).toEqual(event);

    const tampered = Buffer.from(body.toString('utf8').replace('Hooked 2', 'Hooked 3'));
    expect(webhookRejection(() => tessera.webhooks.verify(headers, tampered))).toBe('invalid_signature');

    const other = await admin.apps.create({ name: 'Other secret' });
    expect(webhookRejection(() => verifyWebhook(other.webhook_secret, headers, body))).toBe('invalid_signature');

    const timestamp = Number(headers['webhook-timestamp']);
    const later = { currentDate: new Date((timestamp + 301) * 1000) };
    expect(webhookRejection(() => tessera.webhooks.verify(headers, body, later))).toBe('timestamp_out_of_tolerance');
    expect(tessera.webhooks.verify(headers, body, { currentDate: new Date((timestamp + 299) * 1000) }).type).toBe(
      'app.updated',
    );

    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      const { [name]: _removed, ...without } = headers;
      expect(webhookRejection(() => tessera.webhooks.verify(without, body)), name).toBe('missing_header');
    }
  });

  it('lists, reads and resends its own webhook deliveries; the operator sees them by app', async () => {
    const callback_url = `${receiver.url}/hooks`;
    const created = await admin.apps.create({ name: 'Deliveries', callback_url });
    const other = await admin.apps.create({ name: 'Not mine', callback_url });
    await admin.apps.update(created.app_id, { name: 'Deliveries 2' });
    await admin.apps.update(other.app_id, { name: 'Not mine 2' });
    await vi.waitFor(() => expect(webhooksOf(created.app_id)).toHaveLength(1), { timeout: 10_000, interval: 50 });

    const tessera = clientFor(created);
    const delivered = await vi.waitFor(
      async () => {
        const page = await tessera.webhookDeliveries.list({ status: 'delivered', eventType: 'app.updated' });
        expect(page.data).toHaveLength(1);
        return page.data[0]!;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(delivered).toMatchObject({ app_id: created.app_id, event_type: 'app.updated', attempts: 1, last_status_code: 204 });
    expect(webhooksOf(created.app_id)[0]?.headers['webhook-id']).toBe(delivered.id);

    const all = await tessera.webhookDeliveries.list();
    expect(all.data.every((delivery) => delivery.app_id === created.app_id)).toBe(true);
    expect(await tessera.webhookDeliveries.retrieve(delivered.id)).toEqual(delivered);

    // Another app's delivery does not exist for this app.
    const [othersDelivery] = (await admin.webhookDeliveries.list({ appId: other.app_id })).data;
    expect(othersDelivery?.app_id).toBe(other.app_id);
    expect(await failure(tessera.webhookDeliveries.retrieve(othersDelivery!.id))).toMatchObject({
      code: 'not_found',
      status: 404,
    });
    expect(await failure(tessera.webhookDeliveries.retry(othersDelivery!.id))).toMatchObject({ status: 404 });

    const resent = await tessera.webhookDeliveries.retry(delivered.id);
    expect(resent).toMatchObject({ id: delivered.id, status: 'delivered', attempts: 2 });
    const received = webhooksOf(created.app_id);
    expect(received).toHaveLength(2);
    // A resend keeps the webhook-id (receivers deduplicate on it) and verifies like the first.
    expect(received[1]?.headers['webhook-id']).toBe(delivered.id);
    expect(tessera.webhooks.verify(received[1]!.headers, received[1]!.body).data).toMatchObject({
      app_id: created.app_id,
    });

    const byOperator = await admin.webhookDeliveries.list({ appId: created.app_id, eventType: 'app.updated' });
    expect(byOperator.data.map((delivery) => delivery.id)).toEqual([delivered.id]);
    expect(await admin.webhookDeliveries.retrieve(delivered.id)).toMatchObject({ attempts: 2 });
  });
});
