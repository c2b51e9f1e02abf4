import type {
  App,
  Challenge,
  ClientChallengeSuccess,
  ClientPushChallenge,
  ClientTotpEnrollment,
  EnrolledTotpFactor,
  Factor,
  FactorType,
} from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import type { AppService } from '../apps/service.ts';
import type { ChallengeService } from '../challenges/service.ts';
import type { FactorService } from '../factors/service.ts';
import type { UserService } from '../users/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { ActionStore, toActionRecord, type ActionRow } from './action-store.ts';
import type { ActionTokenClaims, ActionTokens } from './action-token.ts';
import { successTokenSeconds } from './service.ts';

/** The browser's side of an action: what its track token allows. */
export interface ClientSession extends ActionTokenClaims {
  app: App;
}

/** The factor types a code answers through the client API (push is answered on the device). */
export type CodeFactorType = 'totp' | 'recovery';

/** How long a push request of an action waits for the person, at most (the track token may live longer). */
const pushSeconds = 300;

const challengeableStates = ['CHALLENGE_REQUIRED', 'ALLOW'] as const;

/**
 * The client API behind a track token: enroll a first TOTP factor, pass a challenge with a code. Each
 * success moves the action to CHALLENGE_SUCCEEDED and answers a success token, which `validate` accepts.
 * Challenges run through the challenges capability, so its limits (5 wrong codes per challenge, the
 * user's lockout, replay protection) hold here too.
 */
export class ClientService {
  readonly #store: ActionStore;

  constructor(
    private readonly db: Database,
    private readonly apps: AppService,
    private readonly users: UserService,
    private readonly factors: FactorService,
    private readonly challenges: ChallengeService,
    private readonly outbox: Outbox,
    private readonly tokens: ActionTokens,
  ) {
    this.#store = new ActionStore(db);
  }

  /** The session of a track token: 401 when it is not one of ours or has expired, 403 for a success token. */
  async session(token: string): Promise<ClientSession> {
    const check = this.tokens.verify(token);
    if (!check.ok) throw invalidToken(check.reason);
    if (check.claims.scope !== 'track') throw new ApiError('client_token_scope');
    const app = await this.apps.get(check.claims.appId).catch(() => null);
    if (!app) throw invalidToken('unknown app');
    if (!app.active) throw new ApiError('app_inactive');
    return { ...check.claims, app };
  }

  /** The action behind the session, with the types of the user's active factors (for the hosted page). */
  async state(session: ClientSession): Promise<{ action: ActionRow; factorTypes: FactorType[] }> {
    const action = await this.#action(session);
    const factors = await this.factors.list(session.appId, session.userId);
    return { action, factorTypes: [...new Set(factors.filter((f) => f.status === 'active').map((f) => f.type))] };
  }

  /**
   * A TOTP secret for a user with no active factor yet. The action's own enrollment, while unverified, is shown again
   * (a reload of the hosted page or a second tab must not void a QR code already scanned); otherwise a new one replaces
   * the unverified factors that earlier actions enrolled for the user, so that they leave one, not one each. An
   * unverified factor the app enrolled itself stays.
   */
  async enrollTotp(session: ClientSession): Promise<ClientTotpEnrollment> {
    // A factor activated meanwhile is seen (and no enrollment made), and enrollments at once (a double click, two
    // tabs) show the same one.
    return this.#underUserLock(session, async (action) => {
      const factors = await this.factors.list(session.appId, session.userId);
      // Otherwise whoever holds a track token could add a factor of their own and pass the challenge with it.
      if (factors.some((factor) => factor.status === 'active')) throw new ApiError('enrollment_not_allowed');
      const pending = action.enroll_factor_id ? await this.factors.pendingTotpEnrollment(session.appId, action.enroll_factor_id) : null;
      const enrolled = pending ?? (await this.#enrollAnew(session, action, factors));
      return { factor_id: enrolled.factor_id, uri: enrolled.uri, secret: enrolled.secret, qr_data_url: enrolled.qr_data_url };
    });
  }

  async #enrollAnew(session: ClientSession, action: ActionRow, factors: Factor[]): Promise<EnrolledTotpFactor> {
    const enrolledHere = new Set(await this.#store.enrolledFactorIds(session.appId, session.userId));
    for (const factor of factors) {
      if (factor.status === 'unverified' && enrolledHere.has(factor.factor_id)) await this.factors.remove(session.appId, factor.factor_id);
    }
    const enrolled = await this.factors.enrollTotp(session.appId, session.userId, {});
    await this.#store.recordEnrollment(action.id, enrolled.factor_id);
    return enrolled;
  }

  /**
   * Checks a code: the first code of the factor this action enrolled (which activates it), else a code for
   * the action's challenge on the user's factor of `type` (made on first use, living as long as the token).
   * The enrollment was allowed because the user had no active factor: once they have one (the app enrolled it
   * meanwhile), the enrollment is dropped and the code goes to a challenge of the user's own factors.
   */
  async verifyCode(session: ClientSession, type: CodeFactorType, code: string): Promise<ClientChallengeSuccess> {
    const action = await this.#challengeable(session);
    const { appId } = session;
    const enrolled = type === 'totp' && action.enroll_factor_id ? await this.factors.findRecord(appId, action.enroll_factor_id) : null;
    let enrolling = enrolled?.status === 'unverified' ? enrolled : null;
    if (enrolling && (await this.#hasOtherActiveFactor(session, enrolling.id))) {
      await this.factors.remove(appId, enrolling.id).catch(unlessNotFound); // a concurrent code may have dropped it first
      enrolling = null;
    }
    if (enrolling) return this.#activateEnrollment(session, action, enrolling.id, code);
    // The challenge is made and recorded before the transaction that checks the code, in statements of their own:
    // made inside it, its row locks (the user's key, the action) were taken before the user's lock of the check,
    // and concurrent codes deadlocked on PostgreSQL.
    let challengeId = await this.#challengeFor(session, action, type);
    for (let renewals = 0; ; renewals++) {
      const refused = await this.#inTransaction(session, action, () => this.challenges.verify(appId, challengeId, code));
      if (!refused) return this.#successToken(session);
      // One that failed (5 wrong codes) or expired is replaced: the track token stays usable until a challenge
      // succeeds, and the user's lockout (10 wrong codes in a row) still bounds the guesses. Concurrent codes may
      // end the new one too before this code reaches it: a few tries, not a loop without end.
      const ended = refused.code === 'challenge_not_pending' ? (refused.details as { status?: string } | undefined)?.status : null;
      if ((ended !== 'failed' && ended !== 'expired') || renewals === 3) throw refused;
      challengeId = await this.#renewChallenge(session, action, type, challengeId);
    }
  }

  /** The first code of the factor the action enrolled, which activates it, while the user has no other active factor. */
  async #activateEnrollment(session: ClientSession, action: ActionRow, factorId: string, code: string): Promise<ClientChallengeSuccess> {
    const refused = await this.#inTransaction(session, action, async () => {
      await this.factors.activate(session.appId, factorId, code);
      // The check of verifyCode again, under the user's lock that the activation took: another activation that
      // committed meanwhile is seen here, and this one is rolled back.
      if (await this.#hasOtherActiveFactor(session, factorId)) throw new RollBack(new ApiError('enrollment_not_allowed'));
    });
    if (refused) throw refused;
    return this.#successToken(session);
  }

  /**
   * Runs a code check and, if it passes, the action's success, in one transaction. A refusal (an ApiError) is
   * answered after the commit, so that a wrong code's bookkeeping (attempts, the user's lockout) is kept; a RollBack
   * undoes everything first.
   */
  async #inTransaction(session: ClientSession, action: ActionRow, check: () => Promise<unknown>): Promise<ApiError | null> {
    try {
      return await this.db.transaction(async () => {
        const refused = await check().then(
          () => null,
          (error: unknown) => {
            if (error instanceof ApiError) return error;
            throw error;
          },
        );
        if (!refused) await this.#succeed(action, session.appId);
        return refused;
      });
    } catch (error) {
      if (error instanceof RollBack) return error.refusal;
      throw error;
    }
  }

  async #hasOtherActiveFactor(session: ClientSession, factorId: string): Promise<boolean> {
    const factors = await this.factors.list(session.appId, session.userId);
    return factors.some((factor) => factor.status === 'active' && factor.factor_id !== factorId);
  }

  /**
   * The action's push request to the user's devices, with number matching: the one still pending, else a
   * new one (after a denial or an expiry, the person may ask again). Not after the person reported the request
   * as not theirs: whoever holds the token must not be able to send request after request until one is approved.
   */
  async startPush(session: ClientSession): Promise<ClientPushChallenge> {
    // Requests at once (a double click, two tabs) answer the same push, not one each with its own number on the phone.
    return this.#underUserLock(session, async (action) => {
      const current = await this.#pushOf(session, action);
      if (current?.status === 'pending') return pushView(current);
      if (current?.deny_reason === 'fraud') {
        throw new ApiError('action_not_challengeable', 'The person reported this push request as not theirs: no new one is sent.', {
          details: { state: action.state, reason: 'fraud_reported' },
        });
      }
      const secondsLeft = session.expiresAt - Math.floor(Date.now() / 1000);
      const created = await this.challenges.create(session.appId, session.userId, {
        type: 'push',
        number_matching: true,
        reference_id: action.id,
        expires_in: Math.min(pushSeconds, Math.max(1, secondsLeft)),
      });
      await this.#store.replaceChallenge(action.id, 'push', created.challenge_id);
      return pushView(created);
    });
  }

  /** The action's push request (null when none was sent), read at once or, with `waitSeconds`, when it changes. */
  async push(session: ClientSession, waitSeconds = 0, signal?: AbortSignal, challengeId?: string): Promise<ClientPushChallenge | null> {
    const action = await this.#action(session);
    const recorded = action.challenge_ids.push;
    if (challengeId !== undefined && challengeId !== recorded) throw ApiError.notFound('Challenge');
    if (!recorded) return null;
    const challenge = await this.challenges.get(session.appId, recorded, waitSeconds, signal);
    if (challenge.status !== 'approved') return pushView(challenge);
    // Approved: the action succeeds (once; a later read answers a new token until the action is validated).
    if (action.state !== 'CHALLENGE_SUCCEEDED' || action.validated_at) await this.#succeedByPush(session, action);
    return { ...pushView(challenge), ...this.#successToken(session) };
  }

  /** Another read of the same approval (a second tab, a reconnection) may have moved the action first: a success too. */
  async #succeedByPush(session: ClientSession, action: ActionRow): Promise<void> {
    try {
      await this.db.transaction(() => this.#succeed(action, session.appId));
    } catch (error) {
      if (!(error instanceof ApiError && error.code === 'action_not_challengeable')) throw error;
      const now = await this.#action(session);
      if (now.state !== 'CHALLENGE_SUCCEEDED' || now.validated_at) throw notChallengeable(now);
    }
  }

  /** Inside the transaction of the success: the action moves to CHALLENGE_SUCCEEDED, with its event. */
  async #succeed(action: ActionRow, appId: string): Promise<void> {
    const succeeded = await this.#store.transition(action.id, challengeableStates, 'CHALLENGE_SUCCEEDED');
    if (!succeeded) throw notChallengeable(action);
    await this.outbox.enqueue(appId, 'action.challenge_succeeded', toActionRecord(succeeded));
  }

  #successToken(session: ClientSession): ClientChallengeSuccess {
    return { state: 'CHALLENGE_SUCCEEDED', token: this.tokens.sign({ ...session, scope: 'success' }, successTokenSeconds) };
  }

  async #pushOf(session: ClientSession, action: ActionRow): Promise<Challenge | null> {
    const recorded = action.challenge_ids.push;
    return recorded ? this.challenges.get(session.appId, recorded) : null;
  }

  async #challengeFor(session: ClientSession, action: ActionRow, type: CodeFactorType): Promise<string> {
    const existing = action.challenge_ids[type];
    if (existing) return existing;
    const created = await this.#newChallenge(session, action, type);
    // Of two concurrent first codes, both use the challenge recorded first.
    return (await this.#store.recordChallenge(action.id, type, created, null)) ?? created;
  }

  /** A new challenge in place of `ended`, or the one a concurrent call put there first. */
  async #renewChallenge(session: ClientSession, action: ActionRow, type: CodeFactorType, ended: string): Promise<string> {
    const created = await this.#newChallenge(session, action, type);
    return (await this.#store.recordChallenge(action.id, type, created, ended)) ?? created;
  }

  /** A new challenge of `type` for the action, living as long as the token (an hour at most). */
  async #newChallenge(session: ClientSession, action: ActionRow, type: CodeFactorType): Promise<string> {
    const secondsLeft = session.expiresAt - Math.floor(Date.now() / 1000);
    const created = await this.challenges.create(session.appId, session.userId, {
      type,
      reference_id: action.id,
      expires_in: Math.min(3600, Math.max(1, secondsLeft)),
    });
    return created.challenge_id;
  }

  async #action(session: ClientSession): Promise<ActionRow> {
    const action = await this.#store.find(session.appId, session.actionId);
    if (!action) throw invalidToken('unknown action');
    return action;
  }

  /**
   * Runs `work` in a transaction under the user's lock (UserService.lock), with the action read afresh after it: calls
   * at once with one token, or that change the user's factors, then act one after the other. A token whose action
   * cannot be challenged is refused before any lock.
   */
  async #underUserLock<T>(session: ClientSession, work: (action: ActionRow) => Promise<T>): Promise<T> {
    await this.#challengeable(session);
    return this.db.transaction(async () => {
      await this.users.lock(session.appId, session.userId);
      return work(await this.#challengeable(session));
    });
  }

  async #challengeable(session: ClientSession): Promise<ActionRow> {
    const action = await this.#action(session);
    if (!challengeableStates.includes(action.state as never) || action.validated_at) throw notChallengeable(action);
    return action;
  }
}

function unlessNotFound(error: unknown): void {
  if (!(error instanceof ApiError && error.code === 'not_found')) throw error;
}

function invalidToken(reason: string): ApiError {
  return new ApiError('client_token_invalid', undefined, {
    details: { reason },
    headers: { 'www-authenticate': 'Bearer realm="tessera"' },
  });
}

function notChallengeable(action: ActionRow): ApiError {
  return new ApiError('action_not_challengeable', `This action is ${action.state}${action.validated_at ? ' and validated' : ''}.`, {
    details: { state: action.state },
  });
}

function pushView(challenge: Challenge): ClientPushChallenge {
  return {
    challenge_id: challenge.challenge_id,
    status: challenge.status,
    ...(challenge.deny_reason === 'fraud' ? { deny_reason: 'fraud' as const } : {}),
    ...(challenge.number !== undefined ? { number: challenge.number } : {}),
    expires_at: challenge.expires_at,
  };
}

/** Thrown inside the code check's transaction to undo it, then answered as `refusal`. */
class RollBack extends Error {
  constructor(readonly refusal: ApiError) {
    super(refusal.message);
  }
}
