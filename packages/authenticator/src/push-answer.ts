import { signDeviceDecision, type DeviceChallenge, type DeviceDecisionKind } from '@tessera/contracts';
import type { CommandContext } from './command.ts';
import { callServer, ServerRefusal } from './device-client.ts';
import { AuthenticatorError } from './errors.ts';
import { privateKeyOf, type Registration } from './identity.ts';

/** A challenge and the registration it is addressed to. */
export interface LocatedChallenge {
  registration: Registration;
  challenge: DeviceChallenge;
}

/** Finds which registration a challenge is for, by asking each registration's server in turn. */
export async function locateChallenge(registrations: readonly Registration[], challengeId: string): Promise<LocatedChallenge> {
  if (registrations.length === 0) {
    throw new AuthenticatorError('no_registrations', 'This authenticator is not registered with any app yet: run register first.');
  }
  for (const registration of registrations) {
    try {
      const challenge = await callServer<DeviceChallenge>(registration.server, 'GET', `/v1/device/challenges/${encodeURIComponent(challengeId)}`, {
        as: registration,
      });
      return { registration, challenge };
    } catch (error) {
      // Not this registration's (404), or a registration its server has removed (401): try the next.
      if (!(error instanceof ServerRefusal && (error.status === 404 || error.status === 401))) throw error;
    }
  }
  throw new AuthenticatorError('challenge_not_found', `No registration of this authenticator has a challenge ${challengeId}.`);
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
    const typed = Number((await prompt(`Which number does the sign-in screen show? (${choices.join(' / ')}) `)).trim());
    if (choices.includes(typed)) return typed;
    context.stdout.write(`Type one of ${choices.join(', ')}.\n`);
  }
}

/** One line a person reads to decide. */
export function describeChallenge(challenge: DeviceChallenge): string {
  const details = challenge.details && Object.keys(challenge.details).length > 0 ? ` ${JSON.stringify(challenge.details)}` : '';
  const numbers = challenge.number_choices ? ` — pick the number shown: ${challenge.number_choices.join(' / ')}` : '';
  return `${challenge.challenge_id} ${challenge.app.display_name}: ${challenge.message ?? 'Approve this request?'}${details}${numbers} (expires ${challenge.expires_at})`;
}
