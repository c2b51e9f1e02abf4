import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { databaseKinds } from '../../../server/test/harness.ts';
import { addRegistrationBefore, pushTestBed, registerAuthenticator } from '../../test/push-setup.ts';
import { runCli, startCliAtTerminal } from '../../test/run-cli.ts';
import { refusingServer } from '../../test/unreachable-server.ts';

// approve and deny as a person runs them (a child process), against a real server.
describe.each(databaseKinds())('approve and deny on %s', (kind) => {
  const bed = pushTestBed(kind, 'answer');

  const newChallenge = async (body: Record<string, unknown> = {}) => (await bed.api.post(`/v1/users/${bed.userId}/challenges`, body)).body;

  it('answers past an earlier registration whose server cannot be reached', async () => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    await addRegistrationBefore(home, await refusingServer());

    const approving = await newChallenge();
    const approved = await runCli(['approve', approving.challenge_id, '--json'], { home });
    expect([approved.status, approved.stderr]).toEqual([0, '']);
    expect(JSON.parse(approved.stdout)).toMatchObject({ challenge_id: approving.challenge_id, status: 'approved' });

    const denying = await newChallenge();
    const denied = await runCli(['deny', denying.challenge_id], { home });
    expect([denied.status, denied.stdout]).toEqual([0, expect.stringContaining('the challenge is denied')]);
  });

  it('forgets a registration whose device the server removed, once, and answers through the next one', async () => {
    const { api, home, userId } = bed;
    const removed = await registerAuthenticator(api, home, `${userId}-before`);
    const { registration_uri: uri } = (await api.post(`/v1/users/${userId}/device-registrations`)).body;
    const kept = await runCli(['register', uri, '--json'], { home });
    expect([kept.status, kept.stderr]).toEqual([0, '']);
    expect((await api.delete(`/v1/devices/${removed.device_id}`)).status).toBe(204);

    const approving = await newChallenge();
    const approved = await runCli(['approve', approving.challenge_id, '--json'], { home });
    expect(approved.status).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ challenge_id: approving.challenge_id, status: 'approved' });
    expect(approved.stderr).toContain(`removed device ${removed.device_id}`);
    const store = JSON.parse(await readFile(path.join(home, 'store.json'), 'utf8'));
    expect(store.registrations.map((registration: { device_id: string }) => registration.device_id)).toEqual([JSON.parse(kept.stdout).device_id]);

    const denied = await runCli(['deny', (await newChallenge()).challenge_id], { home });
    expect([denied.status, denied.stderr]).toEqual([0, '']);
  });

  it('names the servers it could not reach when no registration has the challenge', async () => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    const unreachable = await refusingServer();
    await addRegistrationBefore(home, unreachable);

    const missing = await runCli(['deny', 'chl_00000000000000000000000000', '--json'], { home });
    expect(missing.status).toBe(1);
    const { error } = JSON.parse(missing.stderr);
    expect(error.code).toBe('server_unreachable');
    expect(error.message).toContain('No registration of this authenticator has a challenge chl_00000000000000000000000000');
    expect(error.message).toContain(`could not reach ${unreachable}`);
  });

  it.each([
    ['Ctrl-C', '\u0003'],
    ['Ctrl-D', '\u0004'],
  ])('%s at the number prompt cancels with status 130 and one line, no stack trace, leaving the challenge pending', async (_key, keys) => {
    const { api, home, userId } = bed;
    await registerAuthenticator(api, home, userId);
    const challenge = await newChallenge({ number_matching: true });
    const approving = startCliAtTerminal(['approve', challenge.challenge_id], { home });
    try {
      await approving.waitFor(/Which number does the sign-in screen show\?/);
      approving.type(keys);
      const { status, stdout } = await approving.exited;
      expect(status).toBe(130);
      expect(stdout).toContain('tessera-authenticator: Cancelled');
      expect(stdout).not.toMatch(/AbortError|Unexpected error|node:internal/);
      expect((await api.get(`/v1/challenges/${challenge.challenge_id}`)).body.status).toBe('pending');
    } finally {
      await approving.stop();
    }
  });
});
