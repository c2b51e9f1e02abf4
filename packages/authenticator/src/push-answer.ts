import { signDeviceDecision, type DeviceChallenge, type DeviceDecisionKind } from '@tessera/contracts';
import type { CommandContext } from './command.ts';
import { callServer, ServerRefusal } from './device-client.ts';
import { AuthenticatorError } from './errors.ts';
import { privateKeyOf, type Registration } from './identity.ts';
import { forgetRegistrations, readStore } from './store.ts';
import { printable } from './terminal-text.ts';

/** A challenge and the registration it is addressed to. */
export interface LocatedChallenge {
  registration: Registration;
  challenge: DeviceChallenge;
}

/**
 * Finds which registration a challenge is for, by asking each registration's server in turn. A server that
 * cannot be reached is skipped (with its other registrations): the challenge may well be another server's.
 * A registration whose server says the device is gone is forgotten, with a line on stderr.
 */
export async function locateChallenge(context: CommandContext, challengeId: string): Promise<LocatedChallenge> {
  const { registrations } = await readStore(context.storeDirectory);
  if (registrations.length === 0) {
    throw new AuthenticatorError('no_registrations', 'This authenticator is not registered with any app yet: run register first.');
  }
  const unreachable = new Set<string>();
  const gone: Registration[] = [];
  try {
    for (const registration of registrations) {
      if (unreachable.has(registration.server)) continue;
      try {
        const challenge = await callServer<DeviceChallenge>(registration.server, 'GET', `/v1/device/challenges/${encodeURIComponent(challengeId)}`, {
          as: registration,
        });
        return { registration, challenge };
      } catch (error) {
        if (error instanceof AuthenticatorError && error.code === 'server_unreachable') {
          unreachable.add(registration.server);
          continue;
        }
        if (error instanceof ServerRefusal && error.deviceGone) {
          gone.push(registration);
          continue;
        }
        // Not this registration's (404), or a device token its server would not take (401): try the next.
        if (!(error instanceof ServerRefusal && (error.status === 404 || error.status === 401))) throw error;
      }
    }
  } finally {
    await forget(context, gone);
  }
  const notFound = `No registration of this authenticator has a challenge ${challengeId}`;
  if (unreachable.size === 0) throw new AuthenticatorError('challenge_not_found', `${notFound}.`);
  throw new AuthenticatorError('server_unreachable', `${notFound} on the servers it reached; it could not reach ${[...unreachable].join(', ')}.`);
}

async function forget(context: CommandContext, gone: readonly Registration[]): Promise<void> {
  await forgetRegistrations(context.storeDirectory, gone.map((registration) => registration.device_id));
  for (const registration of gone) {
    context.stderr.write(
      `${printable(`The server ${registration.server} removed device ${registration.device_id} (${registration.app_name}): this registration is forgotten.`)}\n`,
    );
  }
}

export interface AnswerChoice {
  decision: DeviceDecisionKind;
  /** Number matching: the number the person picked. */
  number?: number;
  fraud?: boolean;
}

/** Signs the decision with the registration's key and sends it; answers the challenge as it now is. */
export async function sendAnswer(located: LocatedChallenge, choice: AnswerChoice): Promise<DeviceChallenge> {
  const { registration, challenge } = located;
  const signed = await signDeviceDecision(
    await privateKeyOf(registration),
    {
      challenge_id: challenge.challenge_id,
      decision: choice.decision,
      ...(choice.number !== undefined ? { number: choice.number } : {}),
      ...(choice.fraud ? { reason: 'fraud' as const } : {}),
    },
    { deviceId: registration.device_id },
  );
  return callServer<DeviceChallenge>(registration.server, 'POST', `/v1/device/challenges/${encodeURIComponent(challenge.challenge_id)}/answer`, {
    as: registration,
    body: { signed_decision: signed },
  });
}

/** Number matching at a terminal: asks until the person types one of the three numbers. */
export async function askNumber(prompt: (question: string) => Promise<string>, context: CommandContext, choices: readonly number[]): Promise<number> {
  for (;;) {
    const typed = Number((await prompt(printable(`Which number does the sign-in screen show? (${choices.join(' / ')}) `))).trim());
    if (choices.includes(typed)) return typed;
    context.stdout.write(`${printable(`Type one of ${choices.join(', ')}.`)}\n`);
  }
}

/** One line a person reads to decide: what the app wrote in it cannot break it in two or restyle it. */
export function describeChallenge(challenge: DeviceChallenge): string {
  const details = challenge.details && Object.keys(challenge.details).length > 0 ? ` ${JSON.stringify(challenge.details)}` : '';
  const numbers = challenge.number_choices ? ` — pick the number shown: ${challenge.number_choices.join(' / ')}` : '';
  return printable(`${challenge.challenge_id} ${challenge.app.display_name}: ${challenge.message ?? 'Approve this request?'}${details}${numbers} (expires ${challenge.expires_at})`);
}
