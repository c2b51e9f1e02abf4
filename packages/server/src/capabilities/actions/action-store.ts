import type { ActionOutcome, ActionRecord, ActionState } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';

export interface ActionRow {
  id: string;
  app_id: string;
  user_id: string;
  action: string;
  state: ActionState;
  outcome: ActionOutcome;
  rule: string | null;
  context: Record<string, unknown>;
  device_id: string | null;
  redirect_url: string | null;
  challenge_ids: Record<string, string>;
  enroll_factor_id: string | null;
  created_at: Date;
  updated_at: Date;
  validated_at: Date | null;
}

export interface NewAction {
  id: string;
  appId: string;
  userId: string;
  action: string;
  outcome: ActionOutcome;
  rule: string | null;
  contextJson: string;
  deviceId: string | null;
  redirectUrl: string | null;
  createdAt: Date;
}

export function toActionRecord(row: ActionRow): ActionRecord {
  return {
    idempotency_key: row.id,
    user_id: row.user_id,
    action: row.action,
    state: row.state,
    outcome: row.outcome,
    rule: row.rule,
    context: row.context,
    redirect_url: row.redirect_url,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    validated_at: row.validated_at ? row.validated_at.toISOString() : null,
  };
}

export class ActionStore {
  constructor(private readonly db: Database) {}

  async find(appId: string, id: string): Promise<ActionRow | null> {
    const [row] = await this.db.query<ActionRow>('SELECT * FROM actions WHERE id = $1 AND app_id = $2', [id, appId]);
    return row ?? null;
  }

  async list(appId: string, userId: string, action: string | null, limit: number, startingAfter: string | null): Promise<ActionRow[]> {
    return this.db.query<ActionRow>(
      `SELECT * FROM actions WHERE app_id = $1 AND user_id = $2 AND ($3::text IS NULL OR action = $3)
         AND ($4::text IS NULL OR id < $4) ORDER BY id DESC LIMIT $5`,
      [appId, userId, action, startingAfter, limit],
    );
  }

  /** Moves the action from one of `from` to `to`; null when it was in none of them (a concurrent change won). */
  async transition(id: string, from: readonly ActionState[], to: ActionState): Promise<ActionRow | null> {
    const [row] = await this.db.query<ActionRow>(
      `UPDATE actions SET state = $3, updated_at = now()
       WHERE id = $1 AND state = ANY($2::text[]) AND validated_at IS NULL RETURNING *`,
      [id, from, to],
    );
    return row ?? null;
  }

  /** Marks the action validated, once: of concurrent calls, exactly one gets the row. */
  async consume(id: string, state: ActionState): Promise<ActionRow | null> {
    const [row] = await this.db.query<ActionRow>(
      `UPDATE actions SET validated_at = now(), updated_at = now()
       WHERE id = $1 AND state = $2 AND validated_at IS NULL RETURNING *`,
      [id, state],
    );
    return row ?? null;
  }

  /**
   * Records the challenge this action runs on a factor type, if the one recorded is still `replacing` (null: none
   * yet), and answers the challenge recorded now: of concurrent calls, the first one's.
   */
  async recordChallenge(id: string, type: string, challengeId: string, replacing: string | null): Promise<string | null> {
    const [row] = await this.db.query<{ challenge_ids: Record<string, string> }>(
      `UPDATE actions SET challenge_ids = challenge_ids || jsonb_build_object($2::text, $3::text)
       WHERE id = $1 AND (challenge_ids ->> $2) IS NOT DISTINCT FROM $4 RETURNING challenge_ids`,
      [id, type, challengeId, replacing],
    );
    if (row) return challengeId;
    const [current] = await this.db.query<{ challenge_ids: Record<string, string> }>('SELECT challenge_ids FROM actions WHERE id = $1', [id]);
    return current?.challenge_ids[type] ?? null;
  }

  /** Records the action's challenge of this type, replacing one that ended (a denial, an expiry, 5 wrong codes). */
  async replaceChallenge(id: string, type: string, challengeId: string): Promise<void> {
    await this.db.query(`UPDATE actions SET challenge_ids = challenge_ids || jsonb_build_object($2::text, $3::text) WHERE id = $1`, [
      id,
      type,
      challengeId,
    ]);
  }

  async recordEnrollment(id: string, factorId: string): Promise<void> {
    await this.db.query('UPDATE actions SET enroll_factor_id = $2 WHERE id = $1', [id, factorId]);
  }

  /** The factors the client API enrolled for the user, through any of their actions (some since deleted). */
  async enrolledFactorIds(appId: string, userId: string): Promise<string[]> {
    const rows = await this.db.query<{ enroll_factor_id: string }>(
      'SELECT DISTINCT enroll_factor_id FROM actions WHERE app_id = $1 AND user_id = $2 AND enroll_factor_id IS NOT NULL',
      [appId, userId],
    );
    return rows.map((row) => row.enroll_factor_id);
  }
}
