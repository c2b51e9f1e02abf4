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

export type InsertUnderCap = { created: ChallengeRecord; capped?: never } | { capped: { userId: string; count: number; firstExpiry: Date }; created?: never };

export interface DeviceTarget {
  id: string;
  user_id: string;
}

export class PushStore {
  constructor(private readonly db: Database) {}

  /**
   * Locks the users' rows (in a fixed order, so that two creations never deadlock) and answers, for each that
   * exists, its newest active push factor (null for none).
   */
  async lockApprovers(appId: string, userIds: readonly string[]): Promise<Map<string, string | null>> {
    await this.db.query(`SELECT 1 FROM users u WHERE u.app_id = $1 AND ${oneOf('u.user_id', '$2', userIds)} ORDER BY u.user_id FOR NO KEY UPDATE`, [
      appId,
      userIds,
    ]);
    // A statement of its own, after the locks: one that waited for a lock still reads with the snapshot it began with,
    // and would not see a device removed by the transaction it waited for.
    const rows = await this.db.query<{ user_id: string; push_factor_id: string | null }>(
      `SELECT u.user_id,
         (SELECT f.id FROM factors f WHERE f.app_id = u.app_id AND f.user_id = u.user_id AND f.type = 'push' AND f.status = 'active'
          ORDER BY f.id DESC LIMIT 1) AS push_factor_id
       FROM users u WHERE u.app_id = $1 AND ${oneOf('u.user_id', '$2', userIds)}`,
      [appId, userIds],
    );
    return new Map(rows.map((row) => [row.user_id, row.push_factor_id]));
  }

  /**
   * Inserts the challenge and its approvers unless one of them already has `cap` push challenges waiting for their
   * answer (pending, not expired): then nothing is written and the answer names that user, their count and when the
   * first of them expires. Run it under the users' locks (lockApprovers): this statement's snapshot then includes
   * every challenge created before. The count goes through the index of open answers: past challenges are never read.
   */
  async insertUnderCap(challenge: NewPushChallenge, approvers: readonly string[], cap: number, now: Date): Promise<InsertUnderCap> {
    const [row] = await this.db.query<ChallengeRecord & { capped_user_id: string | null; capped_count: number | null; capped_first_expiry: Date | null }>(
      `WITH capped AS (
         SELECT a.user_id, count(*)::int AS count, min(c.expires_at) AS first_expiry
         FROM challenge_approvers a JOIN challenges c ON c.id = a.challenge_id
         WHERE a.app_id = $2 AND ${oneOf('a.user_id', '$14', approvers)} AND a.decision IS NULL AND c.status = 'pending' AND c.expires_at > $16
         GROUP BY a.user_id HAVING count(*) >= $15
         ORDER BY a.user_id LIMIT 1
       ), inserted AS (
         INSERT INTO challenges (id, app_id, user_id, user_ids, quorum, factor_id, factor_type, status, reference_id, message,
           details, hidden_details, expires_at, number, number_choices)
         SELECT $1, $2, $3, $4::text[], $5, $6, 'push', 'pending', $7, $8, $9::jsonb, $10::jsonb,
           now() + make_interval(secs => $11), $12, $13::smallint[]
         WHERE NOT EXISTS (SELECT 1 FROM capped)
         RETURNING *
       ), approvers AS (
         INSERT INTO challenge_approvers (challenge_id, app_id, user_id) SELECT inserted.id, inserted.app_id, unnest($14::text[]) FROM inserted
       )
       SELECT inserted.*, capped.user_id AS capped_user_id, capped.count AS capped_count, capped.first_expiry AS capped_first_expiry
       FROM (VALUES (1)) AS one (n) LEFT JOIN inserted ON true LEFT JOIN capped ON true`,
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
        approvers,
        cap,
        now,
      ],
    );
    const { capped_user_id: userId, capped_count: count, capped_first_expiry: firstExpiry, ...inserted } = row as NonNullable<typeof row>;
    if (userId !== null) return { capped: { userId, count: count as number, firstExpiry: firstExpiry as Date } };
    return { created: inserted };
  }

  /** The challenge as the user's device sees it; null when it is not addressed to this user. */
  async findForApprover(appId: string, userId: string, challengeId: string, options: { forUpdate?: boolean } = {}): Promise<ApproverView | null> {
    const [row] = await this.db.query<ChallengeRecord & { answer: DeviceDecisionKind | null }>(
      `SELECT c.*, a.decision AS answer FROM challenges c
       JOIN challenge_approvers a ON a.challenge_id = c.id AND a.user_id = $1
       WHERE c.id = $2${options.forUpdate ? ' FOR UPDATE OF c, a' : ''}`,
      [userId, challengeId],
    );
    // Both rows locked: a transaction that waited for them reads both again as the one before left them. With the
    // challenge's lock alone, the approver's decision came from before the wait, and one person answering from two
    // devices at once was counted twice toward a quorum.
    // The app is checked here, not in the WHERE: there, a generic plan may prefer the app's index to the primary key.
    if (!row || row.app_id !== appId) return null;
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

  /**
   * Records one approver's signed answer and moves the challenge on with it (who approved or denied so far, and its
   * status), in one statement; the caller holds the challenge's lock.
   */
  async recordAnswer(
    answer: { challengeId: string; userId: string; decision: DeviceDecisionKind; reason: DenyReason | null; deviceId: string; signedDecision: string },
    change: { status: 'pending' | 'approved' | 'denied'; approvedBy: string[] | null; deniedBy: string[] | null; denyReason: DenyReason | null },
  ): Promise<ChallengeRecord> {
    const [row] = await this.db.query<ChallengeRecord>(
      `WITH answered AS (
         UPDATE challenge_approvers SET decision = $3, reason = $4, device_id = $5, signed_decision = $6, decided_at = now()
         WHERE challenge_id = $1 AND user_id = $2
       )
       UPDATE challenges SET status = $7, approved_by = $8::text[], denied_by = $9::text[], deny_reason = $10,
         resolved_at = CASE WHEN $7 = 'pending' THEN NULL ELSE now() END
       WHERE id = $1 RETURNING *`,
      [
        answer.challengeId,
        answer.userId,
        answer.decision,
        answer.reason === 'fraud' ? 'fraud' : null,
        answer.deviceId,
        answer.signedDecision,
        change.status,
        change.approvedBy,
        change.deniedBy,
        change.denyReason,
      ],
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

  /** Whether the device is still registered, keeping it so (its removal waits) until the transaction ends. */
  async lockDevice(deviceId: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM devices WHERE id = $1 FOR KEY SHARE', [deviceId])).length > 0;
  }

  async deviceOfFactor(factorId: string): Promise<string | null> {
    const [row] = await this.db.query<{ id: string }>('SELECT id FROM devices WHERE factor_id = $1', [factorId]);
    return row?.id ?? null;
  }

  async devicesOf(appId: string, userIds: readonly string[]): Promise<DeviceTarget[]> {
    return this.db.query<DeviceTarget>('SELECT id, user_id FROM devices WHERE app_id = $1 AND user_id = ANY($2::text[])', [appId, userIds]);
  }
}

/**
 * `column` is one of the users in the array parameter `param`: an equality for one user, so that a prepared
 * statement's generic plan looks the row up by its whole key (with `= ANY`, one made while the tables were small
 * scanned every row of the app, and kept doing so as they grew).
 */
function oneOf(column: string, param: string, userIds: readonly string[]): string {
  return userIds.length === 1 ? `${column} = (${param}::text[])[1]` : `${column} = ANY(${param}::text[])`;
}
