import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { UserStore, type UserProfile, type UserRecord } from './store.ts';

/** Consecutive wrong codes (TOTP or recovery) after which a user's code verification is locked. */
export const maxWrongCodesPerUser = 10;
export const lockoutSeconds = 15 * 60;

/** The outcome of checking one code, as the caller reports it to the lockout. */
export type CodeGuardResult = { locked: false; wrongCodesLeft: number } | { locked: true; retryAfterSeconds: number };

/**
 * Users as an app knows them, and the per-user lockout of code verification. `guardCodeAttempt`
 * locks the user's row until the transaction ends, so concurrent guesses for one user are counted
 * one after the other: 100 wrong codes sent at once get exactly as many evaluations as the limit allows.
 */
export class UserService {
  readonly #store: UserStore;
  readonly #removalHooks: Array<(appId: string, userId: string) => void> = [];

  constructor(private readonly db: Database) {
    this.#store = new UserStore(db);
  }

  async ensure(appId: string, userId: string): Promise<void> {
    await this.#store.ensure(appId, userId);
  }

  async get(appId: string, userId: string): Promise<UserRecord> {
    const user = await this.#store.find(appId, userId);
    if (!user) throw ApiError.notFound('User');
    return user;
  }

  upsert(appId: string, userId: string, profile: UserProfile): Promise<UserRecord> {
    return this.#store.upsert(appId, userId, profile);
  }

  /** `hook` runs once a user's removal has committed (their factors, challenges and devices are gone with them). */
  onRemove(hook: (appId: string, userId: string) => void): void {
    this.#removalHooks.push(hook);
  }

  async remove(appId: string, userId: string): Promise<void> {
    if (!(await this.#store.delete(appId, userId))) throw ApiError.notFound('User');
    this.db.afterCommit(() => {
      for (const hook of this.#removalHooks) hook(appId, userId);
    });
  }

  /**
   * Takes the user's row lock for the rest of the caller's transaction; 404 for an unknown user. Whatever changes a
   * user's factors or challenges, or checks their codes, takes it first: one order of locks (the user, then their
   * challenges, then their factors), so that concurrent changes wait for each other instead of deadlocking.
   */
  async lock(appId: string, userId: string): Promise<UserRecord> {
    const user = await this.#store.find(appId, userId, { lock: true });
    if (!user) throw ApiError.notFound('User');
    return user;
  }

  /**
   * Call inside the transaction that checks a code, before checking it: takes the user's lock and
   * answers whether verification is locked. Throws 404 for an unknown user.
   */
  async guardCodeAttempt(appId: string, userId: string): Promise<CodeGuardResult> {
    return guardState(await this.lock(appId, userId));
  }

  /** Records the result of the code checked under `guardCodeAttempt` (whose answer is `guard`), in the same transaction. */
  async recordCodeResult(appId: string, userId: string, right: boolean, guard: CodeGuardResult): Promise<CodeGuardResult> {
    if (right) {
      // Nothing to reset when no wrong code was counted (the common case: no write).
      if (guard.locked || guard.wrongCodesLeft < maxWrongCodesPerUser) await this.#store.resetFailures(appId, userId);
      return { locked: false, wrongCodesLeft: maxWrongCodesPerUser };
    }
    return guardState(await this.#store.recordWrongCode(appId, userId, maxWrongCodesPerUser, lockoutSeconds));
  }
}

function guardState(user: UserRecord): CodeGuardResult {
  const lockedFor = user.locked_until ? Math.ceil((user.locked_until.getTime() - Date.now()) / 1000) : 0;
  if (lockedFor > 0) return { locked: true, retryAfterSeconds: lockedFor };
  const counted = user.locked_until ? 0 : user.failed_codes; // an expired lock starts the count again
  return { locked: false, wrongCodesLeft: maxWrongCodesPerUser - counted };
}

export function lockedError(retryAfterSeconds: number): ApiError {
  return new ApiError('user_locked', undefined, {
    headers: { 'retry-after': String(retryAfterSeconds) },
    details: { retry_after: retryAfterSeconds },
  });
}
