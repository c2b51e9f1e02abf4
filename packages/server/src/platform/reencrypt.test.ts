import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshStorage, startTestServer, type TestStorage } from '../../test/harness.ts';
import { client } from '../../test/http.ts';
import { WebhookReceiver, eventually } from '../../test/webhook-receiver.ts';
import { Keyring } from './keyring.ts';

describe('rotating the master key', () => {
  let storage: TestStorage;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    storage = await freshStorage('pglite');
    receiver = await new WebhookReceiver().start();
  });
  afterAll(async () => {
    await receiver?.stop();
    await storage?.drop();
  });

  it('re-encrypts stored secrets under the new key at start, and keeps them working', async () => {
    const oldKey = randomBytes(32).toString('base64');
    const newKey = randomBytes(32).toString('base64');
    const fast = { webhooks: { retryBaseMs: 100, pollIntervalMs: 100 } };

    const first = await startTestServer('pglite', { storage, env: { TESSERA_MASTER_KEY: oldKey }, ...fast });
    const app = (await client(first.url).post('/v1/apps', { name: 'Rotated', callback_url: receiver.url })).body;
    await receiver.waitFor(1); // app.created, signed under the old key
    await first.stop();
    receiver.received.length = 0;

    const second = await startTestServer('pglite', {
      storage,
      env: { TESSERA_MASTER_KEY: newKey, TESSERA_PREVIOUS_MASTER_KEYS: oldKey },
      ...fast,
    });
    const currentKeyId = new Keyring(Buffer.from(newKey, 'base64')).currentKeyId;
    await eventually(async () => {
      const [row] = await second.db.query<{ webhook_secret_enc: string }>(
        'SELECT webhook_secret_enc FROM apps WHERE id = $1',
        [app.app_id],
      );
      return row?.webhook_secret_enc.startsWith(`tk1.${currentKeyId}.`) ? true : undefined;
    });
    await second.stop();

    // The previous key is no longer needed: the webhook still signs with the same secret.
    const third = await startTestServer('pglite', { storage, env: { TESSERA_MASTER_KEY: newKey }, ...fast });
    try {
      await client(third.url).patch(`/v1/apps/${app.app_id}`, { name: 'Rotated 2' });
      const [delivery] = await receiver.waitFor(1);
      const event = new Webhook(app.webhook_secret).verify(delivery!.body, {
        'webhook-id': String(delivery!.headers['webhook-id']),
        'webhook-timestamp': String(delivery!.headers['webhook-timestamp']),
        'webhook-signature': String(delivery!.headers['webhook-signature']),
      });
      expect(event).toMatchObject({ type: 'app.updated', data: { name: 'Rotated 2' } });
    } finally {
      await third.stop();
    }
  });
});
