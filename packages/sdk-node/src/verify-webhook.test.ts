import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { webhookRejection } from '../test/failures.ts';
import { Tessera } from './tessera.ts';
import { verifyWebhook } from './verify-webhook.ts';
import { webhookMac } from './webhook-signature.ts';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const body = JSON.stringify({ type: 'app.updated', timestamp: '2025-01-02T03:04:05.000Z', data: { app_id: 'app_1' } });
const now = () => Math.floor(Date.now() / 1000);

/** Signs as Standard Webhooks says, written out here with node:crypto alone, apart from the SDK's code. */
function sign(withSecret: string, id: string, timestamp: number | string, payload: string | Buffer): string {
  const key = Buffer.from(withSecret.slice('whsec_'.length), 'base64');
  const hmac = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(payload);
  return `v1,${hmac.digest('base64')}`;
}

function signedHeaders(overrides: { id?: string; timestamp?: number; payload?: string; secret?: string } = {}) {
  const id = overrides.id ?? 'msg_01jtest';
  const timestamp = overrides.timestamp ?? now();
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': sign(overrides.secret ?? secret, id, timestamp, overrides.payload ?? body),
  };
}

describe('verifyWebhook', () => {
  it('reproduces the published Standard Webhooks test vector', () => {
    const vector = {
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: '1614265330',
      body: '{"test": 2432232314}',
      signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    };
    const key = Buffer.from(vector.secret.slice(6), 'base64');
    expect(`v1,${webhookMac(key, vector.id, vector.timestamp, vector.body).toString('base64')}`).toBe(vector.signature);

    const headers = { 'webhook-id': vector.id, 'webhook-timestamp': vector.timestamp, 'webhook-signature': vector.signature };
    const at = { currentDate: new Date(Number(vector.timestamp) * 1000) };
    // The signature holds, so what fails is only that this body is not a Tessera event.
    expect(webhookRejection(() => verifyWebhook(vector.secret, headers, vector.body, at))).toBe('invalid_payload');
    expect(webhookRejection(() => verifyWebhook(vector.secret, headers, '{"test": 2432232315}', at))).toBe('invalid_signature');
  });

  it('accepts a webhook signed by hand and answers with its event', () => {
    const event = verifyWebhook<{ app_id: string }>(secret, signedHeaders(), body);
    expect(event).toEqual({ type: 'app.updated', timestamp: '2025-01-02T03:04:05.000Z', data: { app_id: 'app_1' } });
    expect(event.data.app_id).toBe('app_1');
  });

  it('reads a fetch Headers object and a record in any letter case, and a body as a Buffer', () => {
    const headers = signedHeaders();
    expect(verifyWebhook(secret, new Headers(headers), body).type).toBe('app.updated');
    const shouting = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verifyWebhook(secret, shouting, Buffer.from(body)).type).toBe('app.updated');
    expect(verifyWebhook(secret, headers, new TextEncoder().encode(body)).type).toBe('app.updated');
  });

  it('signs the exact bytes: a body that is not UTF-8 text verifies only as the same bytes', () => {
    const bytes = Buffer.concat([Buffer.from(body.slice(0, -1)), Buffer.from([0x20, 0xff]), Buffer.from('}')]);
    const id = 'msg_bytes';
    const timestamp = now();
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(secret, id, timestamp, bytes) };
    expect(webhookRejection(() => verifyWebhook(secret, headers, bytes.toString('utf8')))).toBe('invalid_signature');
    // The bytes verify; they are then refused only as a body that is not JSON.
    expect(webhookRejection(() => verifyWebhook(secret, headers, bytes))).toBe('invalid_payload');
  });

  it('accepts any matching v1 signature among several (a secret rotation sends two)', () => {
    const headers = signedHeaders();
    const other = sign(`whsec_${randomBytes(32).toString('base64')}`, 'msg_01jtest', headers['webhook-timestamp'], body);
    const several = { ...headers, 'webhook-signature': `${other} v1a,c2lnbmF0dXJl ${headers['webhook-signature']}` };
    expect(verifyWebhook(secret, several, body).type).toBe('app.updated');
    // The same MAC under another version is not a v1 signature.
    const otherVersion = { ...headers, 'webhook-signature': headers['webhook-signature'].replace('v1,', 'v2,') };
    expect(webhookRejection(() => verifyWebhook(secret, otherVersion, body))).toBe('invalid_signature');
  });

  it('takes the secret with or without its whsec_ prefix', () => {
    expect(verifyWebhook(secret.slice(6), signedHeaders(), body).type).toBe('app.updated');
    expect(() => verifyWebhook('whsec_', signedHeaders(), body)).toThrow(TypeError);
    expect(() => verifyWebhook('whsec_not base64!', signedHeaders(), body)).toThrow(TypeError);
  });
});

describe('verifyWebhook refuses', () => {
  it('a tampered body', () => {
    const tampered = body.replace('app_1', 'app_2');
    expect(webhookRejection(() => verifyWebhook(secret, signedHeaders(), tampered))).toBe('invalid_signature');
    expect(webhookRejection(() => verifyWebhook(secret, signedHeaders(), `${body} `))).toBe('invalid_signature');
  });

  it('a webhook signed with another secret', () => {
    const forged = signedHeaders({ secret: `whsec_${randomBytes(32).toString('base64')}` });
    expect(webhookRejection(() => verifyWebhook(secret, forged, body))).toBe('invalid_signature');
  });

  it('a signature moved to another id or timestamp (they are signed too)', () => {
    const headers = signedHeaders();
    expect(webhookRejection(() => verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_other' }, body))).toBe(
      'invalid_signature',
    );
    const later = String(Number(headers['webhook-timestamp']) + 1);
    expect(webhookRejection(() => verifyWebhook(secret, { ...headers, 'webhook-timestamp': later }, body))).toBe(
      'invalid_signature',
    );
  });

  it('a replay: a stale or far-future timestamp, even when signed well', () => {
    expect(webhookRejection(() => verifyWebhook(secret, signedHeaders({ timestamp: now() - 301 }), body))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(webhookRejection(() => verifyWebhook(secret, signedHeaders({ timestamp: now() + 301 }), body))).toBe(
      'timestamp_out_of_tolerance',
    );
    expect(verifyWebhook(secret, signedHeaders({ timestamp: now() - 290 }), body).type).toBe('app.updated');
    const old = signedHeaders({ timestamp: now() - 3600 });
    expect(verifyWebhook(secret, old, body, { toleranceSeconds: 4000 }).type).toBe('app.updated');
    expect(webhookRejection(() => verifyWebhook(secret, signedHeaders({ timestamp: now() - 60 }), body, { toleranceSeconds: 30 }))).toBe(
      'timestamp_out_of_tolerance',
    );
  });

  it('a timestamp that is not whole seconds', () => {
    const headers = signedHeaders();
    for (const timestamp of ['abc', '1.5', '-1', '0x10', '1e9']) {
      const code = webhookRejection(() => verifyWebhook(secret, { ...headers, 'webhook-timestamp': timestamp }, body));
      expect(code, timestamp).toBe('invalid_timestamp');
    }
    // Milliseconds are read as seconds thousands of years ahead.
    const millis = { ...headers, 'webhook-timestamp': `${headers['webhook-timestamp']}000` };
    expect(webhookRejection(() => verifyWebhook(secret, millis, body))).toBe('timestamp_out_of_tolerance');
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const)('a webhook without %s', (name) => {
    const headers: Record<string, string> = signedHeaders();
    delete headers[name];
    expect(webhookRejection(() => verifyWebhook(secret, headers, body))).toBe('missing_header');
    expect(webhookRejection(() => verifyWebhook(secret, { ...headers, [name]: '' }, body))).toBe('missing_header');
  });

  it('a signature header with no signature in it', () => {
    for (const signature of ['v1,', 'v1', 'garbage', 'v1,AAAA']) {
      const headers = { ...signedHeaders(), 'webhook-signature': signature };
      expect(webhookRejection(() => verifyWebhook(secret, headers, body)), signature).toBe('invalid_signature');
    }
  });

  it('a well-signed body that is not an event', () => {
    for (const payload of ['not json', '[]', '{"type":"x"}', '{"type":1,"timestamp":"t","data":null}']) {
      expect(webhookRejection(() => verifyWebhook(secret, signedHeaders({ payload }), payload)), payload).toBe('invalid_payload');
    }
  });
});

describe('Tessera.webhooks.verify', () => {
  it('verifies with the webhook secret it was given', () => {
    const tessera = new Tessera({ baseUrl: 'http://127.0.0.1:1', appId: 'app_1', appSecret: 'sk_1', webhookSecret: secret });
    expect(tessera.webhooks.verify(signedHeaders(), body).data).toEqual({ app_id: 'app_1' });
    expect(webhookRejection(() => tessera.webhooks.verify(signedHeaders({ timestamp: now() - 100 }), body, { toleranceSeconds: 10 }))).toBe(
      'timestamp_out_of_tolerance',
    );
  });

  it('says so when it has no webhook secret, rather than refusing every webhook', () => {
    const tessera = new Tessera({ baseUrl: 'http://127.0.0.1:1', appId: 'app_1', appSecret: 'sk_1' });
    expect(() => tessera.webhooks.verify(signedHeaders(), body)).toThrow(/webhookSecret/);
  });
});
