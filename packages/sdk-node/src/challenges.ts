import { setTimeout as sleep } from 'node:timers/promises';
import type { Challenge, FactorType } from '@tessera/contracts';
import type { CreatingCallOptions } from './admin-apps.ts';
import type { HttpClient } from './http-client.ts';
import { pathSegment, userPath } from './path-segment.ts';

export interface CreateChallengeOptions {
  /** This factor of the user's; otherwise their newest active factor of `type`. */
  factorId?: string;
  /** Without `factorId` nor `type`: the user's active push factor, else TOTP. `recovery` redeems a recovery code. */
  type?: FactorType;
  /** Your own reference (an order, a session), given back with the challenge and its webhooks. */
  referenceId?: string;
  /** Shown to the person; the app's `challenge_default_message` unless given. */
  message?: string;
  /** Shown to the person (on the device, for push). At most 50 members. */
  details?: Record<string, unknown>;
  /** Kept for the app only. At most 50 members. */
  hiddenDetails?: Record<string, unknown>;
  /** Seconds, 1 to 3600; 300 unless given. */
  expiresIn?: number;
  /**
   * Push only: the challenge comes with `number` (10 to 99) for you to show; the person must pick it on
   * the device among three, and a wrong pick denies the challenge (`deny_reason: "wrong_number"`).
   */
  numberMatching?: boolean;
}

/** A push challenge that needs the approval of `quorum` of several users, such as two of three admins. */
export interface CreateApproversChallengeOptions
  extends Pick<CreateChallengeOptions, 'referenceId' | 'details' | 'hiddenDetails' | 'expiresIn'> {
  /** The app's user ids, 1 to 20, each with a registered device. */
  userIds: string[];
  /** Approvals needed, from 1 to the number of `userIds`. */
  quorum: number;
  /** Shown on the devices; required, since no single user's app default applies. */
  message: string;
}

export interface RetrieveChallengeOptions {
  /** Long-poll: the server holds its answer up to this many seconds (0 to 60) until the status changes. */
  waitSeconds?: number;
}

export interface WaitForResultOptions {
  /** How long to wait in all; the challenge's own expiry ends the wait sooner. */
  timeoutSeconds: number;
}

/** The longest `?wait=` the server holds a read. */
export const maxWaitSeconds = 60;
/** How much longer than its wait a long-poll may take to come back (the network, a busy server). */
const longPollGraceMs = 10_000;
/** The least time between two reads of `waitForResult`, should a read come back early (a proxy that cuts it). */
const minReadIntervalMs = 1_000;

const challengePath = (challengeId: string) => `/v1/challenges/${pathSegment('challengeId', challengeId)}`;

/**
 * Challenges: ask a user for their second factor, check a code, wait for the outcome. A push challenge
 * is answered on the user's device (see `devices`), so the app waits for it:
 *
 * ```ts
 * const challenge = await tessera.challenges.create('user-42', { type: 'push', numberMatching: true });
 * // Show challenge.number: the person picks it on their device.
 * const { status } = await tessera.challenges.waitForResult(challenge.challenge_id, { timeoutSeconds: 120 });
 * if (status === 'approved') signIn();
 * ```
 */
export class Challenges {
  constructor(private readonly http: HttpClient) {}

  /**
   * A new `pending` challenge for one of the user's active factors; a push challenge goes to all the
   * user's devices. `409 no_active_factor` when the user has none of the kind asked for (or `404` for a
   * user the app never used); `429 rate_limited` (with `retryAfter`) when too many challenges were made
   * for this user in the last minute; `429 too_many_pending_challenges` (with `retryAfter`) when 3 push
   * challenges of the user are pending already.
   */
  async create(userId: string, options: CreateChallengeOptions = {}, call: CreatingCallOptions = {}): Promise<Challenge> {
    return this.http.request({
      method: 'POST',
      path: `${userPath(userId)}/challenges`,
      body: {
        factor_id: options.factorId,
        type: options.type,
        reference_id: options.referenceId,
        message: options.message,
        details: options.details,
        hidden_details: options.hiddenDetails,
        expires_in: options.expiresIn,
        number_matching: options.numberMatching,
      },
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /**
   * A new `pending` push challenge for the devices of several users (`user_id` null, `user_ids` set):
   * `approved` once `quorum` of them approve, `denied` once that can no longer happen; `approved_by`
   * and `denied_by` say who answered. `409 no_active_factor` names the users without a device in
   * `details.user_ids` (`404` for users the app never used); `429 rate_limited` and
   * `429 too_many_pending_challenges` as for `create`, for any of the users.
   */
  async createForApprovers(options: CreateApproversChallengeOptions, call: CreatingCallOptions = {}): Promise<Challenge> {
    return this.http.request({
      method: 'POST',
      path: '/v1/challenges',
      body: {
        user_ids: options.userIds,
        quorum: options.quorum,
        message: options.message,
        details: options.details,
        hidden_details: options.hiddenDetails,
        reference_id: options.referenceId,
        expires_in: options.expiresIn,
      },
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /**
   * Checks a TOTP or recovery code; answers with the challenge `verified`. Otherwise a TesseraError:
   * `422 invalid_code` (a wrong or already used code; `details.attempts_left`, and the fifth wrong code
   * fails the challenge), `409 challenge_not_pending` (already verified, failed or expired;
   * `details.status`), `429 user_locked` (ten wrong codes in a row; `retryAfter`). Never retried by the
   * SDK: a code is accepted once.
   */
  async verify(challengeId: string, code: string): Promise<Challenge> {
    return this.http.request({ method: 'POST', path: `${challengePath(challengeId)}/verify`, body: { code } });
  }

  /**
   * The challenge. With `waitSeconds`, the server holds the answer until the status changes, the
   * challenge expires or the wait is over (a long-poll); this call's timeout is then the client's plus
   * the wait.
   */
  async retrieve(challengeId: string, options: RetrieveChallengeOptions = {}): Promise<Challenge> {
    const wait = options.waitSeconds;
    return this.http.request({
      method: 'GET',
      path: challengePath(challengeId),
      query: { wait },
      timeoutMs: wait ? Math.max(this.http.timeoutMs, longPollGraceMs) + wait * 1000 : undefined,
    });
  }

  /**
   * Long-polls (reads of at most 60 s each) until the challenge is no longer `pending` (`verified`,
   * `approved`, `denied`, `failed` or `expired`) or `timeoutSeconds` have passed, and answers with it
   * as last read: check its `status`, which is still `pending` when the time ran out (also for a
   * challenge of several approvers that has some approvals, but not `quorum` yet). The server ends
   * the wait at the challenge's expiry (`expired`). `timeoutSeconds: 0` reads once.
   */
  async waitForResult(challengeId: string, options: WaitForResultOptions): Promise<Challenge> {
    const { timeoutSeconds } = options;
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
      throw new TypeError('timeoutSeconds must be a number of seconds, 0 or more');
    }
    const deadline = Date.now() + timeoutSeconds * 1000;
    for (;;) {
      const started = Date.now();
      // Whole seconds (the API's unit), rounded up: the wait ends at the deadline, not up to a second before it.
      const waitSeconds = Math.min(maxWaitSeconds, Math.max(0, Math.ceil((deadline - started) / 1000)));
      const challenge = await this.retrieve(challengeId, { waitSeconds });
      if (challenge.status !== 'pending' || waitSeconds === 0 || Date.now() >= deadline) return challenge;
      const early = started + minReadIntervalMs - Date.now();
      if (early > 0) await sleep(Math.min(early, deadline - Date.now()));
    }
  }
}
