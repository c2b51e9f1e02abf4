import type { DenyReason, DeviceApp, DeviceChallenge, DeviceDecision, DeviceStreamMessage } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { newId } from '../../platform/ids.ts';
import type { AppService } from '../apps/service.ts';
import type { ChallengeLifecycle } from '../challenges/lifecycle.ts';
import type { ChallengeRecord } from '../challenges/store.ts';
import { deviceRefusal } from '../devices/device-guard.ts';
import { DeviceAuthError, removedDeviceMessage } from '../devices/device-request-token.ts';
import { DeviceDecisionError, verifyDeviceDecision } from '../devices/device-signature.ts';
import type { DeviceRecord } from '../devices/store.ts';
import type { FactorService } from '../factors/service.ts';
import type { UserService } from '../users/service.ts';
import { drawNumbers } from './number-matching.ts';
import type { PushRelay } from './relay.ts';
import { PushStore } from './store.ts';
import { deviceTopic, userDevicesTopic } from './topics.ts';
import { toDeviceChallenge } from './views.ts';

/** Prompt-bombing protection: push challenges one user may have waiting at once. */
export const maxPendingPushPerUser = 3;
/** How far a decision's signed_at may be from the server's clock. */
const decisionSkewMs = 60_000;

export interface NewPush {
  factorId: string | null;
  referenceId: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
  hiddenDetails: Record<string, unknown> | null;
  expiresInSeconds: number;
  numberMatching: boolean;
}

/**
 * Push challenges: delivered to the devices of one user, or of several users with a quorum, and
 * answered by a decision each device signs with its key. Creation and every answer run under row
 * locks (the users' for creation, so that the cap of pending challenges holds under concurrency; the
 * challenge's for answers, so that the quorum is counted once); devices hear of it after the commit.
 */
export class PushChallenges {
  readonly #store: PushStore;

  constructor(
    private readonly db: Database,
    private readonly bus: RealtimeBus,
    private readonly apps: AppService,
    private readonly lifecycle: ChallengeLifecycle,
    factors: FactorService,
    users: UserService,
    private readonly relay: PushRelay | null,
  ) {
    this.#store = new PushStore(db);
    // A removed user's devices went with them: their streams close as a removed device's does.
    users.onRemove((appId, userId) => this.#publish(userDevicesTopic(appId, userId), { type: 'device_removed' }));
    // A removed device's stream closes (its push factor's removal deletes the device); with the user's
    // last device gone, their push challenges cannot be answered any more, so they fail at once.
    factors.onRemove(async (factor) => {
      if (factor.type !== 'push') return;
      const deviceId = await this.#store.deviceOfFactor(factor.id);
      if (deviceId) db.afterCommit(() => this.#publish(deviceTopic(deviceId), { type: 'device_removed' }));
      for (const challenge of await this.#store.failUnanswerable(factor.app_id, factor.user_id, factor.id)) await lifecycle.ended(challenge);
    });
    lifecycle.onEnd((challenge) => {
      if (challenge.factor_type !== 'push') return;
      const message: DeviceStreamMessage = { type: 'challenge_ended', challenge_id: challenge.id, status: challenge.status };
      for (const userId of approversOf(challenge)) this.#publish(userDevicesTopic(challenge.app_id, userId), message);
    });
  }

  /**
   * A push challenge for `userIds` (one user, or several with `quorum`). `noFactor` is the refusal for a single user
   * without a registered device, when the caller asked for no factor type in particular.
   */
  async create(appId: string, userIds: string[], quorum: number | null, input: NewPush, noFactor?: ApiError): Promise<ChallengeRecord> {
    const numbers = input.numberMatching ? drawNumbers() : null;
    const now = new Date();
    const created = await this.db.transaction(async () => {
      const factors = await this.#store.lockApprovers(appId, userIds);
      const unknown = userIds.filter((userId) => !factors.has(userId));
      if (unknown.length > 0) throw ApiError.notFound(unknown.length === 1 && userIds.length === 1 ? 'User' : `Users ${unknown.join(', ')}`);
      const without = userIds.filter((userId) => !factors.get(userId));
      if (without.length > 0) {
        throw (
          noFactor ??
          new ApiError('no_active_factor', `No active push factor (registered device) for: ${without.join(', ')}.`, {
            details: { user_ids: without },
          })
        );
      }
      const single = userIds.length === 1 && quorum === null;
      const insert = {
        id: newId('chl'),
        appId,
        userId: single ? (userIds[0] as string) : null,
        userIds: single ? null : userIds,
        quorum: single ? null : quorum,
        // Null unless the app named a device's factor: the challenge goes to all the user's devices.
        factorId: input.factorId,
        referenceId: input.referenceId,
        message: input.message,
        details: input.details,
        hiddenDetails: input.hiddenDetails,
        expiresInSeconds: input.expiresInSeconds,
        number: numbers?.number ?? null,
        numberChoices: numbers?.choices ?? null,
      };
      const { created, capped } = await this.#store.insertUnderCap(insert, userIds, maxPendingPushPerUser, now);
      if (capped) {
        const retryAfter = Math.max(1, Math.ceil((capped.firstExpiry.getTime() - now.getTime()) / 1000));
        throw new ApiError('too_many_pending_challenges', undefined, {
          details: { user_id: capped.userId, pending: capped.count },
          headers: { 'retry-after': String(retryAfter) },
        });
      }
      return created;
    });
    // In a caller's transaction (a client API push request runs in one), once it commits: a device that hears of the
    // challenge finds it, and a rolled-back or retried one never reaches a phone. A failed delivery there loses no
    // challenge: devices list the open ones when they connect.
    if (this.db.inTransaction) this.db.afterCommit(() => void this.#deliver(created).catch(() => {}));
    else await this.#deliver(created);
    return created;
  }

  async listForDevice(device: DeviceRecord): Promise<DeviceChallenge[]> {
    const app = await this.apps.get(device.app_id);
    const open = await this.#store.listOpenForApprover(device.app_id, device.user_id, new Date());
    return open.map((challenge) => toDeviceChallenge(challenge, app, null));
  }

  async getForDevice(device: DeviceRecord, challengeId: string): Promise<DeviceChallenge> {
    const found = await this.#store.findForApprover(device.app_id, device.user_id, challengeId);
    if (!found) throw ApiError.notFound('Challenge');
    return toDeviceChallenge(found.challenge, await this.apps.get(device.app_id), found.answer);
  }

  /**
   * A device's signed answer. The signature is checked first (it needs no lock); then, under the
   * challenge's lock, this user's answer is recorded once and the challenge moves on: approved once
   * `quorum` users approved, denied once that can no longer happen. A number-matching approval with
   * the wrong one of the three numbers denies it.
   */
  async answer(device: DeviceRecord, challengeId: string, signedDecision: string): Promise<DeviceChallenge> {
    let decision: DeviceDecision;
    try {
      decision = await verifyDeviceDecision(device.public_key, signedDecision, { challengeId, nowMs: Date.now(), maxSkewMs: decisionSkewMs });
    } catch (error) {
      if (error instanceof DeviceDecisionError) throw new ApiError(error.code, error.message);
      throw error;
    }
    // The device guard ran before the body came, which the device may hold back: its app and the device itself are
    // checked again now, the device under a lock that its removal waits for.
    const app = await this.apps.get(device.app_id);
    if (!app.active) throw new ApiError('app_inactive');
    const answered = await this.db.transaction(async () => {
      const found = await this.#store.findForApprover(device.app_id, device.user_id, challengeId, { forUpdate: true });
      if (!found) throw ApiError.notFound('Challenge');
      if (!(await this.#store.lockDevice(device.id))) throw deviceRefusal(new DeviceAuthError('unknown_device', removedDeviceMessage));
      let { challenge } = found;
      if (challenge.status === 'pending' && challenge.expires_at.getTime() <= Date.now()) {
        // Returned, not thrown: the expiry (and its event) must commit.
        challenge = (await this.lifecycle.expire(challenge.id)) ?? challenge;
      }
      if (challenge.status !== 'pending') return { challenge, kind: null };
      if (found.answer !== null) throw new ApiError('already_answered', undefined, { details: { answer: found.answer } });
      const reason = this.#denyReason(challenge, decision);
      const kind = reason === 'wrong_number' ? 'deny' : decision.decision;
      const approvedBy = [...(challenge.approved_by ?? []), ...(kind === 'approve' ? [device.user_id] : [])];
      const deniedBy = [...(challenge.denied_by ?? []), ...(kind === 'deny' ? [device.user_id] : [])];
      const approvers = approversOf(challenge).length;
      const quorum = challenge.quorum ?? 1;
      const status = approvedBy.length >= quorum ? 'approved' : deniedBy.length > approvers - quorum ? 'denied' : 'pending';
      const several = challenge.user_ids !== null;
      const updated = await this.#store.recordAnswer(
        { challengeId, userId: device.user_id, decision: kind, reason, deviceId: device.id, signedDecision },
        { status, approvedBy: several ? approvedBy : null, deniedBy: several ? deniedBy : null, denyReason: reason ?? challenge.deny_reason },
      );
      if (status === 'pending') this.lifecycle.announce(updated);
      else await this.lifecycle.ended(updated, app.callback_url !== null);
      return { challenge: updated, kind };
    });
    if (answered.kind === null) {
      const { status } = answered.challenge;
      throw new ApiError('challenge_not_pending', `This challenge is ${status}.`, { details: { status } });
    }
    const view = toDeviceChallenge(answered.challenge, app, answered.kind);
    if (view.status === 'approved') this.#notifyLogin(answered.challenge, view.app);
    return view;
  }

  /** Why this answer denies: the person's fraud report, or a wrong pick of the number; null otherwise. */
  #denyReason(challenge: ChallengeRecord, decision: DeviceDecision): DenyReason | null {
    if (decision.decision === 'deny') return decision.reason ?? null;
    if (challenge.number === null) {
      if (decision.number !== undefined) throw ApiError.invalid('number', 'this challenge has no number to match');
      return null;
    }
    if (decision.number === undefined) throw ApiError.invalid('number', 'pick the number the app shows, among number_choices');
    if (!(challenge.number_choices ?? []).includes(decision.number)) {
      throw new ApiError('number_not_offered', undefined, { details: { number_choices: challenge.number_choices } });
    }
    return decision.number === challenge.number ? null : 'wrong_number';
  }

  /** After the commit: the challenge to the approvers' device streams, and to the push relay. */
  async #deliver(challenge: ChallengeRecord): Promise<void> {
    const app = await this.apps.get(challenge.app_id);
    const message: DeviceStreamMessage = { type: 'challenge', challenge: toDeviceChallenge(challenge, app, null) };
    const approvers = approversOf(challenge);
    for (const userId of approvers) this.#publish(userDevicesTopic(challenge.app_id, userId), message);
    if (this.relay) {
      const devices = await this.#store.devicesOf(challenge.app_id, approvers);
      this.relay.send(devices.map((device) => ({ device_id: device.id, user_id: device.user_id })), message.challenge);
    }
  }

  /** The login notification: the approving user's devices hear that the approval signed someone in. */
  #notifyLogin(challenge: ChallengeRecord, app: DeviceApp): void {
    const message: DeviceStreamMessage = {
      type: 'notification',
      notification: { kind: 'login', app_id: app.app_id, app_name: app.display_name, at: new Date().toISOString(), challenge_id: challenge.id },
    };
    for (const userId of challenge.approved_by ?? approversOf(challenge)) {
      this.#publish(userDevicesTopic(app.app_id, userId), message);
    }
  }

  #publish(topic: string, message: DeviceStreamMessage | { type: 'device_removed' }): void {
    void this.bus.publish(topic, message as unknown as Record<string, unknown>).catch(() => {});
  }
}

function approversOf(challenge: ChallengeRecord): string[] {
  return challenge.user_ids ?? (challenge.user_id === null ? [] : [challenge.user_id]);
}
