import type { App, DeviceChallenge, DeviceDecisionKind } from '@tessera/contracts';
import type { ChallengeRecord } from '../challenges/store.ts';
import { appOnDevice } from '../devices/service.ts';

/** A push challenge as a device shows it: never the number to match, nor the app's hidden details. */
export function toDeviceChallenge(challenge: ChallengeRecord, app: App, answer: DeviceDecisionKind | null): DeviceChallenge {
  return {
    challenge_id: challenge.id,
    status: challenge.status,
    app: appOnDevice(app),
    message: challenge.message,
    details: challenge.details,
    number_choices: challenge.number_choices,
    expires_at: challenge.expires_at.toISOString(),
    created_at: challenge.created_at.toISOString(),
    answer,
  };
}
