import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds, startTestServer } from '../../../server/test/harness.ts';
import { client, type Client } from '../../../server/test/http.ts';
import { WebhookReceiver, eventually } from '../../../server/test/webhook-receiver.ts';
import { makeTempDir, runCli, startCli } from '../../test/run-cli.ts';

// The authenticator as a person runs it (a child process), against a real server.
describe.each(databaseKinds())('push approvals with the authenticator CLI on %s', (kind) => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;
  let receiver: WebhookReceiver;
  let temp: { dir: string; remove: () => Promise<void> };
  let home: string;
  const userId = `cli-push-user-${kind}`;

  beforeAll(async () => {
    receiver = await new WebhookReceiver().start();
    server = await startTestServer(kind, { webhooks: { pollIntervalMs: 100 } });
    const app = await client(server.url).post('/v1/apps', { name: 'Bank', callback_url: receiver.url, branding: { display_name: 'Example Bank' } });
    api = client(server.url, { app: app.body });
    temp = await makeTempDir();
    home = path.join(temp.dir, 'home');
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.stop();
    await temp?.remove();
  });

  const eventOf = (type: string, challengeId: string) =>
    eventually(async () => receiver.received.map((hook) => JSON.parse(hook.body)).find((e) => e.type === type && e.data.challenge_id === challengeId));

  it('registers from the QR image, hears challenges on its socket, approves and denies them', { timeout: 90_000 }, async () => {
    expect((await runCli(['register', 'tessera://register?server=http%3A%2F%2Fx&token=t'], { home })).stderr).toContain('init');
    expect((await runCli(['init', '--name', 'CLI phone'], { home })).status).toBe(0);

    const registration = await api.post(`/v1/users/${userId}/device-registrations`);
    const png = path.join(temp.dir, 'register.png');
    await writeFile(png, Buffer.from(registration.body.qr_data_url.split(',')[1], 'base64'));
    const registered = await runCli(['register', png, '--json'], { home });
    expect([registered.status, registered.stderr]).toEqual([0, '']);
    const device = JSON.parse(registered.stdout);
    expect(device).toMatchObject({ user_id: userId, app: { display_name: 'Example Bank' } });
    expect((await api.get(`/v1/devices/${device.device_id}`)).body.name).toBe('CLI phone');
    // The token was used once.
    expect((await runCli(['register', png], { home })).status).toBe(1);

    // A challenge made before listening is listed first, after "listening".
    const early = (await api.post(`/v1/users/${userId}/challenges`, { message: 'Sign in from Firefox?' })).body;
    const listener = startCli(['listen', '--json'], { home });
    try {
      const lines = async () => listener.lines.map((line) => JSON.parse(line));
      await listener.line(/"type":"listening"/);
      await listener.line((line) => line.includes(early.challenge_id));
      expect((await lines())[0].type).toBe('listening');
      expect((await lines())[1]).toMatchObject({ type: 'challenge', challenge_id: early.challenge_id, message: 'Sign in from Firefox?' });

      const waiting = api.get(`/v1/challenges/${early.challenge_id}?wait=10`);
      const approved = await runCli(['approve', early.challenge_id], { home });
      expect(approved.stdout).toContain('the challenge is approved');
      expect((await waiting).body.status).toBe('approved');
      await eventOf('challenge.approved', early.challenge_id);
      await listener.line((line) => line.includes('"notification"') && line.includes(early.challenge_id));

      // Live: a challenge with number matching arrives on the socket while listening.
      const matched = (await api.post(`/v1/users/${userId}/challenges`, { number_matching: true })).body;
      const shown = JSON.parse(await listener.line((line) => line.includes(`"challenge_id":"${matched.challenge_id}"`) && line.includes('"type":"challenge"')));
      expect(shown.number_choices).toContain(matched.number);
      const needsNumber = await runCli(['approve', matched.challenge_id], { home });
      expect([needsNumber.status, needsNumber.stderr]).toEqual([1, expect.stringContaining('--number')]);
      const wrong = shown.number_choices.find((n: number) => n !== matched.number);
      const mismatched = await runCli(['approve', matched.challenge_id, '--number', String(wrong)], { home });
      expect([mismatched.status, mismatched.stdout, mismatched.stderr]).toEqual([1, expect.stringContaining('is denied'), expect.stringContaining('denied the challenge')]);
      expect((await api.get(`/v1/challenges/${matched.challenge_id}`)).body.deny_reason).toBe('wrong_number');

      const right = (await api.post(`/v1/users/${userId}/challenges`, { number_matching: true })).body;
      await listener.line((line) => line.includes(right.challenge_id));
      expect((await runCli(['approve', right.challenge_id, '--number', String(right.number)], { home })).stdout).toContain('is approved');

      const fraud = (await api.post(`/v1/users/${userId}/challenges`, {})).body;
      await listener.line((line) => line.includes(fraud.challenge_id));
      expect((await runCli(['deny', fraud.challenge_id, '--fraud'], { home })).status).toBe(0);
      expect((await eventOf('challenge.denied', fraud.challenge_id)).data.deny_reason).toBe('fraud');
      await listener.line((line) => line.includes('challenge_ended') && line.includes(fraud.challenge_id));

      // Refusals exit non-zero with the server's reason.
      const twice = await runCli(['deny', fraud.challenge_id, '--json'], { home });
      expect(twice.status).toBe(1);
      expect(JSON.parse(twice.stderr).error.message).toContain('challenge_not_pending');
      expect((await runCli(['approve', 'chl_00000000000000000000000000'], { home })).stderr).toContain('No registration');
    } finally {
      await listener.stop();
    }

    // Once the server refuses the stream (the device was removed), listen says why and exits 1.
    expect((await api.delete(`/v1/devices/${device.device_id}`)).status).toBe(204);
    const refused = await runCli(['listen', '--json'], { home });
    expect([refused.status, JSON.parse(refused.stdout.split('\n')[0] as string)]).toEqual([
      1,
      { type: 'removed', device_id: device.device_id, reason: expect.stringMatching(/\w/), forgotten: true },
    ]);
    expect(refused.stderr).toContain('refused every device stream');
  });
});
