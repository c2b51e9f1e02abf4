import type { Challenge, ChallengeStatus, DenyReason, FactorType } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { Batcher } from '../../platform/batcher.ts';
import { RecentWrites } from '../../platform/recent-writes.ts';
import type { TotpKey } from '../factors/store.ts';
import type { OutboxEvent } from '../webhooks/outbox.ts';
import { createForFactors, verifyAtSteps, type CreatedForFactor, type CreateForFactor, type VerifyAtStep } from './batched-statements.ts';
import { maxAttemptsPerChallenge } from './limits.ts';

export interface ChallengeRecord {
  id: string;
  app_id: string;
  /** Null for a challenge of several approvers (user_ids). */
  user_id: string | null;
  factor_id: string | null;
  factor_type: FactorType;
  status: ChallengeStatus;
  reference_id: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
  hidden_details: Record<string, unknown> | null;
  attempts: number;
  expires_at: Date;
  resolved_at: Date | null;
  created_at: Date;
  number: number | null;
  number_choices: number[] | null;
  deny_reason: DenyReason | null;
  user_ids: string[] | null;
  quorum: number | null;
  approved_by: string[] | null;
  denied_by: string[] | null;
}

export interface NewChallenge {
  id: string;
  appId: string;
  userId: string;
  factorId: string;
  factorType: FactorType;
  referenceId: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
  hiddenDetails: Record<string, unknown> | null;
  expiresInSeconds: number;
}

/** A challenge as its code check needs it: the row, and its TOTP factor's key (null for another kind of factor). */
export interface CodeCheckState {
  challenge: ChallengeRecord;
  factor: TotpKey | null;
}

export function toChallenge(row: ChallengeRecord): Challenge {
  return {
    challenge_id: row.id,
    user_id: row.user_id,
    status: row.status,
    factor_id: row.factor_id,
    factor_type: row.factor_type,
    reference_id: row.reference_id,
    message: row.message,
    details: row.details,
    hidden_details: row.hidden_details,
    // Only a code is guessed: a push challenge is answered by a signed decision, so it has no attempts to count.
    ...(row.factor_type !== 'push' ? { attempts_left: Math.max(0, maxAttemptsPerChallenge - row.attempts) } : {}),
    expires_at: row.expires_at.toISOString(),
    created_at: row.created_at.toISOString(),
    resolved_at: row.resolved_at ? row.resolved_at.toISOString() : null,
    ...(row.number !== null ? { number: row.number } : {}),
    ...(row.factor_type === 'push' ? { deny_reason: row.deny_reason } : {}),
    ...(row.user_ids !== null
      ? { user_ids: row.user_ids, quorum: row.quorum ?? 1, approved_by: row.approved_by ?? [], denied_by: row.denied_by ?? [] }
      : {}),
  };
}

export class ChallengeStore {
  /** The TOTP challenges this instance made lately, with their factor's key (the sealed secret, as stored). */
  readonly #recent = new RecentWrites<CodeCheckState>();
  readonly #creates: Batcher<CreateForFactor, CreatedForFactor | null>;
  readonly #verifies: Batcher<VerifyAtStep, boolean>;

  constructor(private readonly db: Database) {
    // In a transaction (an Idempotency-Key's, say) a statement joins it, alone; else it waits for the next batch.
    const inTransaction = () => db.inTransaction;
    this.#creates = new Batcher((items) => createForFactors(db, items), inTransaction);
    this.#verifies = new Batcher((items) => verifyAtSteps(db, items), inTransaction);
  }

  /**
   * Inserts a challenge for the user's newest active factor of `type`, in one statement (shared with the creates in
   * flight); null when they have none, or, with `unlessPush`, when they have an active push factor (which the default
   * prefers): nothing is written.
   */
  async insertForActiveFactor(
    challenge: Omit<NewChallenge, 'factorId' | 'factorType'>,
    type: FactorType,
    options: { unlessPush: boolean },
  ): Promise<ChallengeRecord | null> {
    const row = await this.#creates.submit({ challenge, type, unlessPush: options.unlessPush });
    if (!row) return null;
    const created: ChallengeRecord = {
      id: challenge.id,
      app_id: challenge.appId,
      user_id: challenge.userId,
      factor_id: row.factor_id,
      factor_type: row.factor_type,
      status: 'pending',
      reference_id: challenge.referenceId,
      message: challenge.message,
      details: row.details,
      hidden_details: row.hidden_details,
      attempts: 0,
      expires_at: row.expires_at,
      resolved_at: null,
      created_at: row.created_at,
      // A code challenge has none of the push columns.
      number: null,
      number_choices: null,
      deny_reason: null,
      user_ids: null,
      quorum: null,
      approved_by: null,
      denied_by: null,
    };
    if (row.factor_type === 'totp') {
      const { secret_enc, algorithm, digits, period } = row;
      this.#recent.add(created.id, { challenge: created, factor: { id: row.factor_id as string, secret_enc, algorithm, digits, period } });
    }
    return created;
  }

  async insert(challenge: NewChallenge): Promise<ChallengeRecord> {
    const [row] = await this.db.query<ChallengeRecord>(
      `INSERT INTO challenges (id, app_id, user_id, factor_id, factor_type, status, reference_id, message, details,
         hidden_details, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8::jsonb, $9::jsonb, now() + make_interval(secs => $10))
       RETURNING *`,
      [
        challenge.id,
        challenge.appId,
        challenge.userId,
        challenge.factorId,
        challenge.factorType,
        challenge.referenceId,
        challenge.message,
        challenge.details === null ? null : JSON.stringify(challenge.details),
        challenge.hiddenDetails === null ? null : JSON.stringify(challenge.hiddenDetails),
        challenge.expiresInSeconds,
      ],
    );
    return row as ChallengeRecord;
  }

  async find(appId: string, id: string, options: { forUpdate?: boolean } = {}): Promise<ChallengeRecord | null> {
    // The app is checked here: with `app_id = $2` in SQL, a generic plan made before the table was first analysed
    // reads the app's every challenge through challenges_by_user (a tie with the primary key on a tiny table).
    const [row] = await this.db.query<ChallengeRecord>(
      `SELECT * FROM challenges WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return row?.app_id === appId ? row : null;
  }

  /** The challenge and its TOTP factor's key for a code check (no lock: `verifyAtStep` checks again). */
  async findForCodeCheck(appId: string, id: string): Promise<CodeCheckState | null> {
    const recent = this.#recent.take(id);
    if (recent?.challenge.app_id === appId) return recent;
    // Each table by its primary key (the app checked here, the factor behind OFFSET 0): see `find`.
    const [row] = await this.db.query<ChallengeRecord & { key_id: string | null } & Omit<TotpKey, 'id'>>(
      `SELECT c.*, f.id AS key_id, f.secret_enc, f.algorithm, f.digits, f.period
       FROM challenges c
       LEFT JOIN LATERAL (SELECT * FROM factors WHERE id = c.factor_id AND type = 'totp' OFFSET 0) f ON true
       WHERE c.id = $1`,
      [id],
    );
    if (row?.app_id !== appId) return null;
    const { key_id, secret_enc, algorithm, digits, period, ...challenge } = row;
    return { challenge, factor: key_id === null ? null : { id: key_id, secret_enc, algorithm, digits, period } };
  }

  /**
   * Verifies `challenge` (as read) with a TOTP code of time step `step`, in one statement (shared with the verifies in
   * flight) that locks and checks the challenge, the user's lockout and the factor's step again, and writes `event` if
   * the app still has a callback URL (batched-statements.ts). False when a check fails: then nothing is written.
   */
  verifyAtStep(challenge: ChallengeRecord, factorId: string, step: number, now: Date, event: OutboxEvent | null): Promise<boolean> {
    return this.#verifies.submit({ challenge, factorId, step, now, event });
  }

  /**
   * Ends a pending challenge with `status`; null when it was no longer pending. Its attempts count wrong codes only:
   * a right one leaves them (attempts_left is what is left of the wrong-code budget).
   */
  async resolve(id: string, status: ChallengeStatus): Promise<ChallengeRecord | null> {
    const [row] = await this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = $2, resolved_at = now() WHERE id = $1 AND status = 'pending' RETURNING *`,
      [id, status],
    );
    return row ?? null;
  }

  /** Counts a wrong code; the challenge fails at the limit. */
  async recordWrongCode(id: string): Promise<ChallengeRecord> {
    const [row] = await this.db.query<ChallengeRecord>(
      `UPDATE challenges SET attempts = attempts + 1,
         status = CASE WHEN attempts + 1 >= $2 THEN 'failed' ELSE status END,
         resolved_at = CASE WHEN attempts + 1 >= $2 THEN now() ELSE resolved_at END
       WHERE id = $1 RETURNING *`,
      [id, maxAttemptsPerChallenge],
    );
    return row as ChallengeRecord;
  }

  /** Ends the pending challenges of a factor that is being deleted. */
  async failPendingOfFactor(factorId: string): Promise<ChallengeRecord[]> {
    return this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = 'failed', resolved_at = now()
       WHERE factor_id = $1 AND status = 'pending' RETURNING *`,
      [factorId],
    );
  }

  /**
   * Marks pending challenges past their expiry as expired (all, or the one given). `now` is the server's
   * clock, the one the service decided expiry with (the database's now() is its transaction's start).
   */
  async expire(options: { id?: string; limit: number; now: Date }): Promise<ChallengeRecord[]> {
    return this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = 'expired', resolved_at = expires_at
       WHERE id IN (SELECT id FROM challenges WHERE status = 'pending' AND expires_at <= $3
                    AND ($1::text IS NULL OR id = $1) ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [options.id ?? null, options.limit, options.now],
    );
  }
}
