import type { Database } from '../../platform/database/database.ts';

export interface UserRecord {
  app_id: string;
  user_id: string;
  email: string | null;
  phone: string | null;
  display_name: string | null;
  failed_codes: number;
  locked_until: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface UserProfile {
  email?: string | null;
  phone?: string | null;
  display_name?: string | null;
}

export class UserStore {
  constructor(private readonly db: Database) {}

  async ensure(appId: string, userId: string): Promise<void> {
    await this.db.query('INSERT INTO users (app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [appId, userId]);
  }

  /**
   * `lock`: FOR NO KEY UPDATE, which excludes every other lock of the user's row but not the key-share locks that
   * inserts referencing the user take (a challenge, a factor): those need not wait, and cannot close a cycle with it.
   */
  async find(appId: string, userId: string, options: { lock?: boolean } = {}): Promise<UserRecord | null> {
    const [row] = await this.db.query<UserRecord>(
      `SELECT * FROM users WHERE app_id = $1 AND user_id = $2${options.lock ? ' FOR NO KEY UPDATE' : ''}`,
      [appId, userId],
    );
    return row ?? null;
  }

  /** Creates the user or updates the fields given (absent fields stay as they are). */
  async upsert(appId: string, userId: string, profile: UserProfile): Promise<UserRecord> {
    const [row] = await this.db.query<UserRecord>(
      `INSERT INTO users (app_id, user_id, email, phone, display_name) VALUES ($1, $2, $4, $6, $8)
       ON CONFLICT (app_id, user_id) DO UPDATE SET
         email = CASE WHEN $3 THEN EXCLUDED.email ELSE users.email END,
         phone = CASE WHEN $5 THEN EXCLUDED.phone ELSE users.phone END,
         display_name = CASE WHEN $7 THEN EXCLUDED.display_name ELSE users.display_name END,
         updated_at = now()
       RETURNING *`,
      [
        appId,
        userId,
        profile.email !== undefined,
        profile.email ?? null,
        profile.phone !== undefined,
        profile.phone ?? null,
        profile.display_name !== undefined,
        profile.display_name ?? null,
      ],
    );
    return row as UserRecord;
  }

  async delete(appId: string, userId: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM users WHERE app_id = $1 AND user_id = $2 RETURNING 1', [appId, userId])).length > 0;
  }

  /** Counts a wrong code; the counter starts again after a lock has run out. Locks at `limit`. */
  async recordWrongCode(appId: string, userId: string, limit: number, lockSeconds: number): Promise<UserRecord> {
    const [row] = await this.db.query<UserRecord>(
      `UPDATE users SET
         failed_codes = CASE WHEN locked_until IS NOT NULL AND locked_until <= now() THEN 1 ELSE failed_codes + 1 END,
         locked_until = CASE
           WHEN locked_until IS NOT NULL AND locked_until <= now() THEN NULL
           WHEN failed_codes + 1 >= $3 THEN now() + make_interval(secs => $4)
           ELSE locked_until END
       WHERE app_id = $1 AND user_id = $2 RETURNING *`,
      [appId, userId, limit, lockSeconds],
    );
    return row as UserRecord;
  }

  async resetFailures(appId: string, userId: string): Promise<void> {
    await this.db.query(
      'UPDATE users SET failed_codes = 0, locked_until = NULL WHERE app_id = $1 AND user_id = $2 AND failed_codes > 0',
      [appId, userId],
    );
  }
}
