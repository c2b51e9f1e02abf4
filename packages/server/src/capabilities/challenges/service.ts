import type { Challenge, FactorType } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { newId } from '../../platform/ids.ts';
import type { RateLimiter } from '../../platform/rate-limiter.ts';
import type { AppService } from '../apps/service.ts';
import type { FactorService } from '../factors/service.ts';
import type { FactorRecord } from '../factors/store.ts';
import { lockedError, type UserService } from '../users/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { defaultExpiresInSeconds } from './limits.ts';
import { ChallengeStore, toChallenge, type ChallengeRecord } from './store.ts';

export interface CreateChallenge {
  factor_id?: string;
  type?: FactorType;
  reference_id?: string;
  message?: string;
  details?: Record<string, unknown>;
  hidden_details?: Record<string, unknown>;
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

const topic = (challengeId: string) => `challenge:${challengeId}`;

/** The factor types a challenge that names no factor may use, in order of preference. */
function factorTypesFor(type: FactorType | undefined): FactorType[] {
  // PRODUCT.md's default is push, else TOTP; push joins once devices can answer challenges.
  return type ? [type] : ['totp'];
}

function pushNotYet(): ApiError {
  return new ApiError('no_active_factor', 'Push challenges are not available yet: use a TOTP factor.');
}
const recheckMs = 2_000;

/**
 * Challenges: create one for a user's factor, verify a code (TOTP or recovery), read it, wait for it to
 * change. Every decision is one transaction under the user's lock; the event and the wake-up of waiting
 * readers follow the commit.
 */
export class ChallengeService {
  readonly #store: ChallengeStore;

  constructor(
    private readonly db: Database,
    private readonly bus: RealtimeBus,
    private readonly apps: AppService,
    private readonly users: UserService,
    private readonly factors: FactorService,
    private readonly outbox: Outbox,
    private readonly rateLimiter: RateLimiter,
    private readonly options: ChallengeOptions,
  ) {
    this.#store = new ChallengeStore(db);
    factors.onRemove(async (factor) => {
      for (const challenge of await this.#store.failPendingOfFactor(factor.id)) await this.#recordEnd(challenge);
    });
  }

  async create(appId: string, userId: string, body: CreateChallenge): Promise<Challenge> {
    const rate = await this.rateLimiter.hit(`challenges:${appId}:${userId}`, this.options.creationsPerUserPerMinute, 60);
    if (!rate.allowed) {
      throw new ApiError('rate_limited', 'Too many challenges for this user; retry later.', {
        headers: { 'retry-after': String(rate.retryAfterSeconds) },
      });
    }
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
    // The usual call names no factor: one statement picks it and inserts; the lookups below explain a refusal.
    const created =
      body.factor_id === undefined && body.type !== 'push'
        ? await this.#store.insertForActiveFactor(challenge, factorTypesFor(body.type))
        : null;
    if (created) return toChallenge(created);
    const factor = await this.#factorFor(appId, userId, body);
    return toChallenge(await this.#store.insert({ ...challenge, factorId: factor.id, factorType: factor.type }));
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
    const verified: ChallengeRecord = { ...found.challenge, status: 'verified', attempts: found.challenge.attempts + 1, resolved_at: now };
    // No outbox write for an app without a callback URL (the app is cached; a change drops it at once).
    const event = (await this.apps.get(appId)).callback_url === null ? null : this.outbox.event('challenge.verified', toChallenge(verified));
    if (!(await this.#store.verifyAtStep(found.challenge, found.factor.id, step, now, event))) return null;
    if (event) this.outbox.written();
    this.#announce(verified);
    return verified;
  }

  async #verifyInTransaction(appId: string, challengeId: string, code: string): Promise<VerifyOutcome> {
    // The challenge's lock, then the user's: every code check of the user waits for the one under way.
    const challenge = await this.#store.find(appId, challengeId, { forUpdate: true });
    if (!challenge) throw ApiError.notFound('Challenge');
    const guard = await this.users.guardCodeAttempt(appId, challenge.user_id);
    if (challenge.status === 'pending' && challenge.expires_at.getTime() <= Date.now()) {
      return { kind: 'not_pending', challenge: (await this.#expire(challengeId)) ?? challenge };
    }
    if (challenge.status !== 'pending') return { kind: 'not_pending', challenge };
    if (challenge.factor_type !== 'totp' && challenge.factor_type !== 'recovery') {
      throw new ApiError('validation_failed', 'This challenge is answered on the device, not with a code.');
    }
    if (guard.locked) return { kind: 'locked', retryAfterSeconds: guard.retryAfterSeconds };
    const factor = challenge.factor_id ? await this.factors.findRecord(appId, challenge.factor_id) : null;
    if (!factor) {
      // Its factor was deleted (or its recovery codes all used) since the challenge was made.
      return { kind: 'not_pending', challenge: await this.#end(challenge.id, 'failed', false) };
    }
    const { ok } = await this.factors.checkCode(factor, code);
    const after = await this.users.recordCodeResult(appId, challenge.user_id, ok, guard);
    if (ok) return { kind: 'verified', challenge: await this.#end(challenge.id, 'verified', true) };
    const wrong = await this.#store.recordWrongCode(challenge.id);
    this.#announce(wrong);
    if (wrong.status === 'failed') await this.outbox.enqueue(appId, 'challenge.failed', toChallenge(wrong));
    return { kind: 'wrong', challenge: wrong, locked: after.locked };
  }

  /**
   * Reads a challenge; with `waitSeconds`, holds the read until it changes, expires or the time is up.
   * A change wakes the reader through the bus; it also looks again every few seconds, since a bus
   * message can be missed (a Redis subscription is not instant).
   */
  async get(appId: string, challengeId: string, waitSeconds = 0, signal?: AbortSignal): Promise<Challenge> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      // Listen before reading, so that a change between the read and the wait is not missed.
      const change = this.#nextChange(challengeId, signal);
      const challenge = await this.#read(appId, challengeId).catch((error: unknown) => {
        change.cancel();
        throw error;
      });
      const left = deadline - Date.now();
      if (challenge.status !== 'pending' || left <= 0 || signal?.aborted) {
        change.cancel();
        return toChallenge(challenge);
      }
      await change.wait(Math.max(50, Math.min(left, challenge.expires_at.getTime() - Date.now() + 20, recheckMs)));
    }
  }

  /** Marks every pending challenge past its expiry as expired, with its event (the sweeper). */
  async expireDue(): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await this.db.transaction(async () => {
        const rows = await this.#store.expire({ limit: 100, now: new Date() });
        for (const row of rows) await this.#recordEnd(row);
        return rows.length;
      });
      total += expired;
      if (expired < 100) return total;
    }
  }

  async #factorFor(appId: string, userId: string, body: CreateChallenge): Promise<FactorRecord> {
    if (body.factor_id !== undefined) {
      const named = await this.factors.findForChallenge(appId, userId, body.factor_id);
      if (named.type === 'push') throw pushNotYet();
      return named;
    }
    if (body.type === 'push') throw pushNotYet();
    const factor = await this.factors.findActive(appId, userId, factorTypesFor(body.type));
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
      const expired = await this.db.transaction(() => this.#expire(challengeId));
      return expired ?? ((await this.#store.find(appId, challengeId)) as ChallengeRecord);
    }
    return challenge;
  }

  async #expire(challengeId: string): Promise<ChallengeRecord | null> {
    const [expired] = await this.#store.expire({ id: challengeId, limit: 1, now: new Date() });
    if (expired) await this.#recordEnd(expired);
    return expired ?? null;
  }

  async #end(challengeId: string, status: 'verified' | 'failed', countAttempt: boolean): Promise<ChallengeRecord> {
    const ended = (await this.#store.resolve(challengeId, status, countAttempt)) as ChallengeRecord;
    await this.#recordEnd(ended);
    return ended;
  }

  /** The event of a challenge that ended, and the wake-up of readers waiting on it. */
  async #recordEnd(challenge: ChallengeRecord): Promise<void> {
    await this.outbox.enqueue(challenge.app_id, `challenge.${challenge.status}`, toChallenge(challenge));
    this.#announce(challenge);
  }

  #announce(challenge: ChallengeRecord): void {
    this.db.afterCommit(() => void this.bus.publish(topic(challenge.id), { status: challenge.status }).catch(() => {}));
  }

  #nextChange(challengeId: string, signal?: AbortSignal): { wait(timeoutMs: number): Promise<void>; cancel(): void } {
    let wake = () => {};
    let changed = false;
    const unsubscribe = this.bus.subscribe(topic(challengeId), () => {
      changed = true;
      wake();
    });
    const onAbort = () => wake();
    signal?.addEventListener('abort', onAbort);
    const cancel = () => {
      unsubscribe();
      signal?.removeEventListener('abort', onAbort);
    };
    return {
      cancel,
      wait: (timeoutMs) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
          wake = () => {
            clearTimeout(timer);
            cancel();
            resolve();
          };
          if (changed || signal?.aborted) wake();
        }),
    };
  }
}
