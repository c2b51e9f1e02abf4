import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../test/harness.ts';
import { client, type Client } from '../test/http.ts';
import { WebhookReceiver, eventually } from '../test/webhook-receiver.ts';

describe.each(databaseKinds())('housekeeping on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let admin: Client;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    server = await startTestServer(kind, { env: { TESSERA_WEBHOOK_RETENTION_DAYS: '7' }, webhooks: { pollIntervalMs: 100 } });
    receiver = await new WebhookReceiver().start();
    admin = client(server.url);
  });
  afterAll(async () => {
    await receiver?.stop();
    await server?.stop();
  });

  const age = (table: string, column: string, id: { column: string; value: string | Buffer }, days: number) =>
    server.db.query(`UPDATE ${table} SET ${column} = now() - make_interval(days => $2) WHERE ${id.column} = $1`, [id.value, days]);

  it('forgets deliveries that ended before the retention and registrations that ended a day ago, nothing else', async () => {
    const app = (await admin.post('/v1/apps', { name: 'Kept', callback_url: receiver.url })).body;
    const api = client(server.url, { app });
    for (const name of ['Two', 'Three']) expect((await admin.patch(`/v1/apps/${app.app_id}`, { name })).status).toBe(200);
    // Three deliveries: app.created, then two app.updated.
    const log = async () => (await api.get('/v1/webhook-deliveries')).body.data as Array<{ id: string; status: string }>;
    const [newest, middle, oldest] = await eventually(async () => {
      const data = await log();
      return data.length === 3 && data.every((delivery) => delivery.status === 'delivered') ? data : undefined;
    });
    // The oldest delivered 8 days ago (past the 7-day retention); the middle one is as old but still pending.
    await age('webhook_deliveries', 'created_at', { column: 'id', value: oldest!.id }, 8);
    await age('webhook_deliveries', 'created_at', { column: 'id', value: middle!.id }, 8);
    await server.db.query(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now() + interval '1 hour' WHERE id = $1`, [
      middle!.id,
    ]);

    for (let i = 0; i < 3; i++) expect((await api.post('/v1/users/dana/device-registrations', {})).status).toBe(201);
    const hashes = (await server.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM device_registrations ORDER BY created_at')).map(
      (row) => row.token_hash,
    );
    expect(hashes).toHaveLength(3);
    await age('device_registrations', 'expires_at', { column: 'token_hash', value: hashes[0]! }, 2); // ended 2 days ago
    await server.db.query(`UPDATE device_registrations SET expires_at = now() - interval '1 hour' WHERE token_hash = $1`, [hashes[1]]);

    expect(await server.app.housekeeping()).toMatchObject({ webhook_deliveries: 1, device_registrations: 1 });
    expect((await log()).map((delivery) => delivery.id)).toEqual([newest!.id, middle!.id]);
    const left = await server.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM device_registrations ORDER BY created_at');
    expect(left.map((row) => row.token_hash.toString('hex'))).toEqual([hashes[1]!.toString('hex'), hashes[2]!.toString('hex')]);
    // A second pass forgets nothing more.
    expect(await server.app.housekeeping()).toEqual({ idempotency_keys: 0, webhook_deliveries: 0, device_registrations: 0 });
  });
});
