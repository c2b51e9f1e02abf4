import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDeviceDecision } from '@tessera/contracts';
import { databaseKinds, startTestServer } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';
import { registerPushDevice, type PushDevice } from '../../../test/push-device.ts';

/**
 * An answer whose body comes after its headers: the device guard has passed by then, so what happened meanwhile
 * (the device removed, the app suspended) is checked again when the body is read.
 */
async function heldAnswer(baseUrl: string, device: PushDevice, challengeId: string, meanwhile: () => Promise<void>) {
  const path = `/v1/device/challenges/${challengeId}/answer`;
  const signed = await signDeviceDecision(device.privateKey, { challenge_id: challengeId, decision: 'approve' });
  const body = JSON.stringify({ signed_decision: signed });
  const authorization = await device.authorization('POST', path);
  const reply = new Promise<{ status: number; body: any }>((resolve, reject) => {
    const sent = httpRequest(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    sent.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) }));
    });
    sent.on('error', reject);
    sent.flushHeaders();
    // The guard runs once the headers are in; then what happens meanwhile, then the body.
    setTimeout(() => void meanwhile().then(() => sent.end(body), reject), 300);
  });
  return reply;
}

describe.each(databaseKinds())('a push answer whose body comes late on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let admin: Client;
  let counter = 0;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = client(server.url);
  });
  afterAll(() => server?.stop());

  const newApp = async () => {
    const app = (await admin.post('/v1/apps', { name: `Bank ${++counter}` })).body;
    return { app, api: client(server.url, { app }) };
  };

  it('is refused once the device was removed meanwhile, and the challenge stays pending for the other device', async () => {
    const { api } = await newApp();
    const device = await registerPushDevice(api, server.url);
    await registerPushDevice(api, server.url, { userId: device.userId });
    const challenge = (await api.post(`/v1/users/${device.userId}/challenges`, { type: 'push' })).body;
    const answered = await heldAnswer(server.url, device, challenge.challenge_id, async () => {
      expect((await api.delete(`/v1/devices/${device.deviceId}`)).status).toBe(204);
    });
    expect([answered.status, answered.body.error.details]).toEqual([401, { reason: 'unknown_device' }]);
    expect((await api.get(`/v1/challenges/${challenge.challenge_id}`)).body.status).toBe('pending');
  });

  it('is refused once the app was suspended meanwhile', async () => {
    const { app, api } = await newApp();
    const device = await registerPushDevice(api, server.url);
    const challenge = (await api.post(`/v1/users/${device.userId}/challenges`, { type: 'push' })).body;
    const answered = await heldAnswer(server.url, device, challenge.challenge_id, async () => {
      expect((await admin.patch(`/v1/apps/${app.app_id}`, { active: false })).status).toBe(200);
    });
    expect([answered.status, answered.body.error.code]).toEqual([403, 'app_inactive']);
    expect((await admin.patch(`/v1/apps/${app.app_id}`, { active: true })).status).toBe(200);
    expect((await api.get(`/v1/challenges/${challenge.challenge_id}`)).body.status).toBe('pending');
  });
});
