import type { Challenge, FactorType } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { newId } from '../../platform/ids.ts';
import { inSlices } from '../../platform/in-slices.ts';
import type { RateLimiter } from '../../platform/rate-limiter.ts';
import type { AppService } from '../apps/service.ts';
import type { FactorService } from '../factors/service.ts';
import type { FactorRecord } from '../factors/store.ts';
import { lockedError, type UserService } from '../users/service.ts';
import type { NewPush, PushChallenges } from '../push/service.ts';
import type { ChallengeLifecycle } from './lifecycle.ts';
import { defaultExpiresInSeconds } from './limits.ts';
import { ChallengeStore, toChallenge, type ChallengeRecord, type NewChallenge } from './store.ts';

export interface CreateChallenge {
  factor_id?: string;
  type?: FactorType;
  reference_id?: string;
  message?: string;
  details?: Record<string, unknown>;
  hidden_details?: Record<string, unknown>;
  expires_in?: number;
  number_matching?: boolean;
}

/** `POST /v1/challenges`: a push challenge approved once `quorum` of these users approve. */
export interface CreateQuorumChallenge {
  user_ids: string[];
  quorum: number;
  message: string;
  details?: Record<string, unknown>;
  hidden_details?: Record<string, unknown>;
  reference_id?: string;
  expires_in?: number;
}

export interface ChallengeOptions {
  /** Challenges one user may have created in a minute (prompt-bombing and abuse protection). */
  creationsPerUserPerMinute: number;
}

type VerifyOutcome =
  | { kind: 'verified'; challenge: ChallengeRecord }
  | { kind: 'wrong'; challenge: ChallengeRecord; locked: boolean }
  | { kind: 'not_pending'; challenge: ChallengeRecord }
  | { kind: 'locked'; retryAfterSeconds: number };

/**
 * Challenges: create one for a user's factor, verify a code (TOTP or recovery), read it, wait for it to
 * change. Every decision is one transaction under the user's lock; the event and the wake-up of waiting
 * readers follow the commit.
 */
export class ChallengeService {
  readonly #store: ChallengeStore;

  constructor(
    private readonly db: Database,
    private readonly apps: AppService,
    private readonly users: UserService,
    private readonly factors: FactorService,
    private readonly lifecycle: ChallengeLifecycle,
    private readonly push: PushChallenges,
    private readonly rateLimiter: RateLimiter,
    private readonly options: ChallengeOptions,
  ) {
    this.#store = new ChallengeStore(db);
    factors.onRemove(async (factor) => {
      for (const challenge of await this.#store.failPendingOfFactor(factor.id)) await this.lifecycle.ended(challenge);
    });
  }

  async create(appId: string, userId: string, body: CreateChallenge): Promise<Challenge> {
    return this.#limitedCreation(appId, [userId], () => this.#create(appId, userId, body));
  }

  async #create(appId: string, userId: string, body: CreateChallenge): Promise<Challenge> {
    const app = await this.apps.get(appId);
    const challenge = {
      id: newId('chl'),
      appId,
      userId,
      referenceId: body.reference_id ?? null,
      message: body.message ?? app.challenge_default_message,
      details: body.details ?? null,
      hiddenDetails: body.hidden_details ?? null,
      expiresInSeconds: body.expires_in ?? defaultExpiresInSeconds,
    };
    // The usual call names no factor: one statement picks the user's TOTP factor and inserts, unless the user has an
    // active push factor, which the default prefers; push.create then checks the user and the factor under its lock.
    if (body.factor_id === undefined && body.type !== 'push' && !body.number_matching) {
      const created = await this.#store.insertForActiveFactor(challenge, body.type ?? 'totp', { unlessPush: body.type === undefined });
      if (created) return toChallenge(created);
      if (body.type === undefined) {
        const noFactor = new ApiError('no_active_factor', 'The user has no active push or TOTP factor.');
        return toChallenge(await this.push.create(appId, [userId], null, pushOf(challenge, null, false), noFactor));
      }
    }
    const factor = await this.#factorFor(appId, userId, body);
    if (body.type !== undefined && body.type !== factor.type) throw ApiError.invalid('type', `is not the factor's type (${factor.type})`);
    if (body.number_matching && factor.type !== 'push') throw ApiError.invalid('number_matching', 'applies to push challenges only');
    if (factor.type === 'push') {
      const factorId = body.factor_id === undefined ? null : factor.id;
      return toChallenge(await this.push.create(appId, [userId], null, pushOf(challenge, factorId, body.number_matching ?? false)));
    }
    return toChallenge(await this.#store.insert({ ...challenge, factorId: factor.id, factorType: factor.type }));
  }

  async createForQuorum(appId: string, body: CreateQuorumChallenge): Promise<Challenge> {
    const userIds = [...new Set(body.user_ids)];
    if (userIds.length !== body.user_ids.length) throw ApiError.invalid('user_ids', 'must not name a user twice');
    if (body.quorum > userIds.length) throw ApiError.invalid('quorum', `must be at most the number of user_ids (${userIds.length})`);
    const challenge = {
      factorId: null,
      referenceId: body.reference_id ?? null,
      message: body.message,
      details: body.details ?? null,
      hiddenDetails: body.hidden_details ?? null,
      expiresInSeconds: body.expires_in ?? defaultExpiresInSeconds,
      numberMatching: false,
    };
    return this.#limitedCreation(appId, userIds, async () => toChallenge(await this.push.create(appId, userIds, body.quorum, challenge)));
  }

  /**
   * Counts a creation against each user's per-minute limit, then creates. Only creations count: a call refused
   * for another reason (an unknown user, no factor, number matching on a TOTP factor, three pushes pending) gives
   * its hits back, so that a caller's mistakes do not use up the user's challenges; so does a call refused by the
   * limit itself (the calls in flight when it was reached may yet give theirs back).
   */
  async #limitedCreation(appId: string, userIds: string[], create: () => Promise<Challenge>): Promise<Challenge> {
    const counted: string[] = [];
    try {
      for (const userId of userIds) {
        const key = `challenges:${appId}:${userId}`;
        const rate = await this.rateLimiter.hit(key, this.options.creationsPerUserPerMinute, 60);
        counted.push(key);
        if (!rate.allowed) {
          throw new ApiError('rate_limited', 'Too many challenges for this user; retry later.', {
            headers: { 'retry-after': String(rate.retryAfterSeconds) },
          });
        }
      }
      return await create();
    } catch (error) {
      await Promise.allSettled(counted.map((key) => this.rateLimiter.release(key)));
      throw error;
    }
  }

  async verify(appId: string, challengeId: string, code: string): Promise<Challenge> {
    const verified = await this.#verifyRightCode(appId, challengeId, code);
    if (verified) return toChallenge(verified);
    const outcome = await this.db.transaction(() => this.#verifyInTransaction(appId, challengeId, code));
    switch (outcome.kind) {
      case 'verified':
        return toChallenge(outcome.challenge);
      case 'locked':
        throw lockedError(outcome.retryAfterSeconds);
      case 'not_pending':
        throw new ApiError('challenge_not_pending', `This challenge is ${outcome.challenge.status}.`, {
          details: { status: outcome.challenge.status },
        });
      case 'wrong': {
        const challenge = toChallenge(outcome.challenge);
        throw new ApiError('invalid_code', undefined, {
          details: { attempts_left: challenge.attempts_left, status: challenge.status, user_locked: outcome.locked },
        });
      }
    }
  }

  /**
   * The usual verify, a right TOTP code, in one statement that locks and checks everything again (the challenge,
   * the user's lockout, the factor's step: ChallengeStore.verifyAtStep) and writes the event with the change. Null
   * for anything else (a wrong code, a locked user, a race with another verify), which the transaction answers.
   */
  async #verifyRightCode(appId: string, challengeId: string, code: string): Promise<ChallengeRecord | null> {
    const found = await this.#store.findForCodeCheck(appId, challengeId);
    const now = new Date();
    if (!found?.factor || found.challenge.status !== 'pending' || found.challenge.expires_at <= now) return null;
    const step = this.factors.matchTotp(found.factor, code, now.getTime());
    if (step === null) return null;
    const verified: ChallengeRecord = { ...found.challenge, status: 'verified', resolved_at: now };
    // No outbox write for an app without a callback URL (the app is cached; a change drops it at once).
    const event = this.lifecycle.eventOf(verified, (await this.apps.get(appId)).callback_url !== null);
    if (!(await this.#store.verifyAtStep(found.challenge, found.factor.id, step, now, event))) return null;
    this.lifecycle.endedByStatement(verified, event);
    return verified;
  }

  async #verifyInTransaction(appId: string, challengeId: string, code: string): Promise<VerifyOutcome> {
    // The user's lock, then the challenge's (UserService.lock): every code check of the user waits for the one under
    // way, and so do a deletion of the user, of a factor and a regeneration of recovery codes, which lock in that order.
    const read = await this.#store.find(appId, challengeId);
    if (!read) throw ApiError.notFound('Challenge');
    if (read.factor_type === 'push' || read.user_id === null) throw new ApiError('answered_on_device');
    const guard = await this.users.guardCodeAttempt(appId, read.user_id);
    const challenge = await this.#store.find(appId, challengeId, { forUpdate: true });
    if (!challenge || challenge.user_id === null) throw ApiError.notFound('Challenge');
    if (challenge.status === 'pending' && challenge.expires_at.getTime() <= Date.now()) {
      return { kind: 'not_pending', challenge: (await this.lifecycle.expire(challengeId)) ?? challenge };
    }
    if (challenge.status !== 'pending') return { kind: 'not_pending', challenge };
    if (guard.locked) return { kind: 'locked', retryAfterSeconds: guard.retryAfterSeconds };
    const factor = challenge.factor_id ? await this.factors.findRecord(appId, challenge.factor_id) : null;
    if (!factor) {
      // Its factor was deleted (or its recovery codes all used) since the challenge was made.
      return { kind: 'not_pending', challenge: await this.#end(challenge.id, 'failed') };
    }
    const { ok } = await this.factors.checkCode(factor, code);
    const after = await this.users.recordCodeResult(appId, challenge.user_id, ok, guard);
    if (ok) return { kind: 'verified', challenge: await this.#end(challenge.id, 'verified') };
    const wrong = await this.#store.recordWrongCode(challenge.id);
    if (wrong.status === 'failed') await this.lifecycle.ended(wrong);
    else this.lifecycle.announce(wrong);
    return { kind: 'wrong', challenge: wrong, locked: after.locked };
  }

  /**
   * Reads a challenge; with `waitSeconds`, holds the read until it changes, expires or the time is up.
   * A change wakes the reader through the bus; the reader reads again only then, at the expiry, at the
   * deadline, or after a gap in the bus (a lost connection to Redis), never on a timer.
   */
  async get(appId: string, challengeId: string, waitSeconds = 0, signal?: AbortSignal): Promise<Challenge> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      // Listen before reading (a Redis subscription is confirmed first), so that a change between the read and the
      // wait is not missed.
      const change = waitSeconds > 0 ? this.lifecycle.nextChange(challengeId, signal) : null;
      const challenge = await (change?.listening ?? Promise.resolve())
        .then(() => this.#read(appId, challengeId))
        .catch((error: unknown) => {
          change?.cancel();
          throw error;
        });
      const left = deadline - Date.now();
      if (!change || challenge.status !== 'pending' || left <= 0 || signal?.aborted) {
        change?.cancel();
        return toChallenge(challenge);
      }
      const changed = await change.wait(Math.max(50, Math.min(left, challenge.expires_at.getTime() - Date.now() + 20)));
      // An ending is final: the message's copy is the row as it committed. Anything else is read again.
      if (changed && changed.status !== 'pending') return changed;
    }
  }

  /** Marks every pending challenge past its expiry as expired, with its event (the sweeper). */
  expireDue(): Promise<number> {
    return inSlices(100, (limit) =>
      this.db.transaction(async () => {
        const rows = await this.#store.expire({ limit, now: new Date() });
        for (const row of rows) await this.lifecycle.ended(row);
        return rows.length;
      }),
    );
  }

  async #factorFor(appId: string, userId: string, body: CreateChallenge): Promise<FactorRecord> {
    if (body.factor_id !== undefined) return this.factors.findForChallenge(appId, userId, body.factor_id);
    const factor = await this.factors.findActive(appId, userId, body.type ? [body.type] : ['push', 'totp']);
    if (factor) return factor;
    await this.users.get(appId, userId); // 404 for a user the app never used
    throw new ApiError(
      'no_active_factor',
      body.type ? `The user has no active ${body.type} factor.` : 'The user has no active push or TOTP factor.',
    );
  }

  async #read(appId: string, challengeId: string): Promise<ChallengeRecord> {
    const challenge = await this.#store.find(appId, challengeId);
    if (!challenge) throw ApiError.notFound('Challenge');
    if (challenge.status === 'pending' && challenge.expires_at.getTime() <= Date.now()) {
      const expired = await this.db.transaction(() => this.lifecycle.expire(challengeId));
      return expired ?? ((await this.#store.find(appId, challengeId)) as ChallengeRecord);
    }
    return challenge;
  }

  async #end(challengeId: string, status: 'verified' | 'failed'): Promise<ChallengeRecord> {
    const ended = (await this.#store.resolve(challengeId, status)) as ChallengeRecord;
    await this.lifecycle.ended(ended);
    return ended;
  }
}

/** The push challenge for a user's challenge fields; `factorId` null sends it to all the user's devices. */
function pushOf(challenge: Omit<NewChallenge, 'factorId' | 'factorType'>, factorId: string | null, numberMatching: boolean): NewPush {
  const { id: _id, appId: _app, userId: _user, ...fields } = challenge;
  return { ...fields, factorId, numberMatching };
}
