import type { DeviceDecisionKind, DenyReason } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import type { ChallengeRecord } from '../challenges/store.ts';

export interface NewPushChallenge {
  id: string;
  appId: string;
  /** One user, or null with `userIds` and `quorum` for several approvers. */
  userId: string | null;
  userIds: string[] | null;
  quorum: number | null;
  factorId: string | null;
  referenceId: string | null;
  message: string | null;
  details: Record<string, unknown> | null;
  hiddenDetails: Record<string, unknown> | null;
  expiresInSeconds: number;
  number: number | null;
  numberChoices: number[] | null;
}

/** A push challenge with one approver's own answer (the device's user). */
export interface ApproverView {
  challenge: ChallengeRecord;
  answer: DeviceDecisionKind | null;
}

export interface DeviceTarget {
  id: string;
  user_id: string;
}

export class PushStore {
  constructor(private readonly db: Database) {}

  /** Locks the users' rows (in a fixed order, so that two creations never deadlock); answers those that exist. */
  async lockUsers(appId: string, userIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.db.query<{ user_id: string }>(
      'SELECT user_id FROM users WHERE app_id = $1 AND user_id = ANY($2::text[]) ORDER BY user_id FOR UPDATE',
      [appId, userIds],
    );
    return new Set(rows.map((row) => row.user_id));
  }

  /** The users' newest active push factor, by user. */
  async pushFactors(appId: string, userIds: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.db.query<{ user_id: string; id: string }>(
      `SELECT DISTINCT ON (user_id) user_id, id FROM factors
       WHERE app_id = $1 AND user_id = ANY($2::text[]) AND type = 'push' AND status = 'active'
       ORDER BY user_id, id DESC`,
      [appId, userIds],
    );
    return new Map(rows.map((row) => [row.user_id, row.id]));
  }

  /**
   * Per user, the pending push challenges (not yet expired) still waiting for their answer, and when the first
   * of them expires. Through the index of open answers: the app's past challenges are never read.
   */
  async pendingLoad(appId: string, userIds: readonly string[], now: Date): Promise<Map<string, { count: number; firstExpiry: Date }>> {
    const rows = await this.db.query<{ user_id: string; count: number; first_expiry: Date }>(
      `SELECT a.user_id, count(*)::int AS count, min(c.expires_at) AS first_expiry
       FROM challenge_approvers a JOIN challenges c ON c.id = a.challenge_id
       WHERE a.app_id = $1 AND a.user_id = ANY($2::text[]) AND a.decision IS NULL AND c.status = 'pending' AND c.expires_at > $3
       GROUP BY a.user_id`,
      [appId, userIds, now],
    );
    return new Map(rows.map((row) => [row.user_id, { count: row.count, firstExpiry: row.first_expiry }]));
  }

  async insert(challenge: NewPushChallenge, approvers: readonly string[]): Promise<ChallengeRecord> {
    const [row] = await this.db.query<ChallengeRecord>(
      `INSERT INTO challenges (id, app_id, user_id, user_ids, quorum, factor_id, factor_type, status, reference_id, message,
         details, hidden_details, expires_at, number, number_choices)
       VALUES ($1, $2, $3, $4::text[], $5, $6, 'push', 'pending', $7, $8, $9::jsonb, $10::jsonb,
         now() + make_interval(secs => $11), $12, $13::smallint[])
       RETURNING *`,
      [
        challenge.id,
        challenge.appId,
        challenge.userId,
        challenge.userIds,
        challenge.quorum,
        challenge.factorId,
        challenge.referenceId,
        challenge.message,
        challenge.details === null ? null : JSON.stringify(challenge.details),
        challenge.hiddenDetails === null ? null : JSON.stringify(challenge.hiddenDetails),
        challenge.expiresInSeconds,
        challenge.number,
        challenge.numberChoices,
      ],
    );
    await this.db.query(
      `INSERT INTO challenge_approvers (challenge_id, app_id, user_id) SELECT $1, $2, unnest($3::text[])`,
      [challenge.id, challenge.appId, approvers],
    );
    return row as ChallengeRecord;
  }

  /** The challenge as the user's device sees it; null when it is not addressed to this user. */
  async findForApprover(appId: string, userId: string, challengeId: string, options: { forUpdate?: boolean } = {}): Promise<ApproverView | null> {
    const [row] = await this.db.query<ChallengeRecord & { answer: DeviceDecisionKind | null }>(
      `SELECT c.*, a.decision AS answer FROM challenges c
       JOIN challenge_approvers a ON a.challenge_id = c.id AND a.user_id = $2
       WHERE c.id = $3 AND c.app_id = $1${options.forUpdate ? ' FOR UPDATE OF c' : ''}`,
      [appId, userId, challengeId],
    );
    if (!row) return null;
    const { answer, ...challenge } = row;
    return { challenge, answer };
  }

  /** The user's challenges still waiting for their answer, oldest first. */
  async listOpenForApprover(appId: string, userId: string, now: Date): Promise<ChallengeRecord[]> {
    return this.db.query<ChallengeRecord>(
      `SELECT c.* FROM challenge_approvers a JOIN challenges c ON c.id = a.challenge_id
       WHERE a.app_id = $1 AND a.user_id = $2 AND a.decision IS NULL AND c.status = 'pending' AND c.expires_at > $3
       ORDER BY c.created_at, c.id LIMIT 100`,
      [appId, userId, now],
    );
  }

  /** Records one approver's signed answer. */
  async recordAnswer(answer: {
    challengeId: string;
    userId: string;
    decision: DeviceDecisionKind;
    reason: DenyReason | null;
    deviceId: string;
    signedDecision: string;
  }): Promise<void> {
    await this.db.query(
      `UPDATE challenge_approvers SET decision = $3, reason = $4, device_id = $5, signed_decision = $6, decided_at = now()
       WHERE challenge_id = $1 AND user_id = $2`,
      [answer.challengeId, answer.userId, answer.decision, answer.reason === 'fraud' ? 'fraud' : null, answer.deviceId, answer.signedDecision],
    );
  }

  /** Moves the challenge on after an answer: who approved or denied so far, and its status. */
  async update(
    challengeId: string,
    change: { status: 'pending' | 'approved' | 'denied'; approvedBy: string[] | null; deniedBy: string[] | null; denyReason: DenyReason | null },
  ): Promise<ChallengeRecord> {
    const [row] = await this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = $2, approved_by = $3::text[], denied_by = $4::text[], deny_reason = $5,
         resolved_at = CASE WHEN $2 = 'pending' THEN NULL ELSE now() END
       WHERE id = $1 RETURNING *`,
      [challengeId, change.status, change.approvedBy, change.deniedBy, change.denyReason],
    );
    return row as ChallengeRecord;
  }

  /**
   * Fails the user's pending push challenges (addressed to them alone) that no other active push
   * factor than `removedFactorId` could answer.
   */
  async failUnanswerable(appId: string, userId: string, removedFactorId: string): Promise<ChallengeRecord[]> {
    return this.db.query<ChallengeRecord>(
      `UPDATE challenges SET status = 'failed', resolved_at = now()
       WHERE app_id = $1 AND user_id = $2 AND factor_type = 'push' AND status = 'pending' AND factor_id IS NULL
         AND NOT EXISTS (SELECT 1 FROM factors f WHERE f.app_id = $1 AND f.user_id = $2 AND f.type = 'push'
                         AND f.status = 'active' AND f.id <> $3)
       RETURNING *`,
      [appId, userId, removedFactorId],
    );
  }

  async deviceOfFactor(factorId: string): Promise<string | null> {
    const [row] = await this.db.query<{ id: string }>('SELECT id FROM devices WHERE factor_id = $1', [factorId]);
    return row?.id ?? null;
  }

  async devicesOf(appId: string, userIds: readonly string[]): Promise<DeviceTarget[]> {
    return this.db.query<DeviceTarget>('SELECT id, user_id FROM devices WHERE app_id = $1 AND user_id = ANY($2::text[])', [appId, userIds]);
  }
}
