import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseKinds } from '../../../server/test/harness.ts';
import { addRegistrationBefore, pushTestBed, registerAuthenticator } from '../../test/push-setup.ts';
import { runCli, startCli, startCliAtTerminal } from '../../test/run-cli.ts';
import { refusingServer } from '../../test/unreachable-server.ts';

// listen as a person runs it (a child process), against a real server.
describe.each(databaseKinds())('listen on %s', (kind) => {
  const bed = pushTestBed(kind, 'listen');

  it('shows the reachable servers’ challenges at once while another server cannot be reached, and reports that one', async () => {
    const { api, home, userId } = bed;
    const { device_id: deviceId } = await registerAuthenticator(api, home, userId);
    const unreachable = await refusingServer();
    await addRegistrationBefore(home, unreachable, 'dev_unreachable');
    const waiting = (await api.post(`/v1/users/${userId}/challenges`, { message: 'Sign in from Firefox?' })).body;

    const listener = startCli(['listen', '--json'], { home });
    try {
      const listening = JSON.parse(await listener.line(/"type":"listening"/, 5_000));
      expect(listening.devices).toEqual([{ device_id: deviceId, app_name: 'Example Bank', user_id: userId }]);
      await listener.line((line) => line.includes('"type":"challenge"') && line.includes(waiting.challenge_id), 5_000);
      const dropped = JSON.parse(await listener.line(/"type":"dropped"/, 5_000));
      expect(dropped).toMatchObject({ device_id: 'dev_unreachable', reason: expect.stringMatching(/ECONNREFUSED/) });
    } finally {
      await listener.stop();
    }
  });

  it('prints what the server sends on one line, with control characters and bidi overrides escaped', async () => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    const message = 'Sign in?\n\u001b[2K\rAPPROVED by your bank \u202egnp.exe';
    const challenge = (await api.post(`/v1/users/${userId}/challenges`, { message, details: { city: 'Z\u009b2Jrich' } })).body;

    const listener = startCli(['listen'], { home });
    try {
      const line = await listener.line((text) => text.includes(challenge.challenge_id));
      expect(line).toContain('Sign in?\\n\\x1b[2K\\rAPPROVED by your bank \\u202egnp.exe');
      expect(line).toContain('Z\\x9b2Jrich');
      for (const text of listener.lines) expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
      expect(listener.lines.filter((text) => text.includes('APPROVED by your bank'))).toEqual([line]);
    } finally {
      await listener.stop();
    }
  });

  it('forgets a registration the server removed, saying so once', async () => {
    const { api, home, userId } = bed;
    const { device_id: deviceId } = await registerAuthenticator(api, home, userId);
    expect((await api.delete(`/v1/devices/${deviceId}`)).status).toBe(204);

    const refused = await runCli(['listen', '--json'], { home });
    expect(refused.status).toBe(1);
    expect(JSON.parse(refused.stdout.split('\n')[0] as string)).toEqual({
      type: 'removed',
      device_id: deviceId,
      reason: expect.stringMatching(/\w/),
      forgotten: true,
    });
    expect(JSON.parse(await readFile(path.join(home, 'store.json'), 'utf8')).registrations).toBeUndefined();

    const again = await runCli(['listen'], { home });
    expect([again.status, again.stdout]).toEqual([1, '']);
    expect(again.stderr).toContain('not registered with any app');
  });

  it.each([
    ['Ctrl-C', '\u0003'],
    ['Ctrl-D', '\u0004'],
  ])('%s at its question stops it with status 130 and one line, no stack trace, leaving the challenge pending', async (_key, keys) => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    const listener = startCliAtTerminal(['listen'], { home });
    try {
      await listener.waitFor(/listening/);
      const challenge = (await api.post(`/v1/users/${userId}/challenges`, {})).body;
      await listener.waitFor(new RegExp(`Approve ${challenge.challenge_id} from Example Bank\\? \\[y\\]es`));
      listener.type(keys);
      const { status, stdout } = await listener.exited;
      expect(status).toBe(130);
      expect(stdout).toMatch(new RegExp(`tessera-authenticator: Cancelled: ${challenge.challenge_id} was left unanswered`));
      expect(stdout).not.toMatch(/AbortError|Unexpected error|node:internal/);
      expect((await api.get(`/v1/challenges/${challenge.challenge_id}`)).body.status).toBe('pending');
    } finally {
      await listener.stop();
    }
  });

  it('stops at SIGTERM while its question is open, instead of hanging on the question', async () => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    const listener = startCliAtTerminal(['listen'], { home });
    try {
      await listener.waitFor(/listening/);
      await api.post(`/v1/users/${userId}/challenges`, {});
      await listener.waitFor(/\[y\]es \/ \[n\]o \/ \[f\]raud/);
      listener.kill('SIGTERM');
      const stopped = await Promise.race([listener.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5_000))]);
      expect(stopped).toMatchObject({ status: 0 });
    } finally {
      await listener.stop();
    }
  });
});
