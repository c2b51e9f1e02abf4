import type { Challenge, ChallengeStatus, DenyReason, FactorType } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
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
    attempts_left: Math.max(0, maxAttemptsPerChallenge - row.attempts),
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
  constructor(private readonly db: Database) {}

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
    const [row] = await this.db.query<ChallengeRecord>(
      `SELECT * FROM challenges WHERE id = $1 AND app_id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [id, appId],
    );
    return row ?? null;
  }

  /** Ends a pending challenge with `status`; null when it was no longer pending. */
  async resolve(id: string, status: ChallengeStatus, countAttempt: boolean): Promise<ChallengeRecord | null> {
    const [row] = await this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = $2, resolved_at = now(), attempts = attempts + $3
       WHERE id = $1 AND status = 'pending' RETURNING *`,
      [id, status, countAttempt ? 1 : 0],
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
