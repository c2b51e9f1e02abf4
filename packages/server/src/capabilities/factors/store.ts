import type { Factor, FactorStatus, FactorType, TotpAlgorithm } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import type { TotpParams } from './totp.ts';

/** A factor as stored: the wire shape plus the encrypted secret and the last accepted time step. */
export interface FactorRecord {
  id: string;
  app_id: string;
  user_id: string;
  type: FactorType;
  status: FactorStatus;
  name: string | null;
  secret_enc: string | null;
  algorithm: TotpAlgorithm | null;
  digits: 6 | 8 | null;
  period: 30 | 60 | null;
  last_step: string | number | null;
  created_at: Date;
  activated_at: Date | null;
  codes_left: number | null;
}

/** What checking a TOTP code needs of its factor: the sealed secret and the parameters. */
export type TotpKey = Pick<FactorRecord, 'id' | 'secret_enc' | 'algorithm' | 'digits' | 'period'>;

export function toFactor(row: FactorRecord): Factor {
  const factor: Factor = {
    factor_id: row.id,
    user_id: row.user_id,
    type: row.type,
    status: row.status,
    name: row.name,
    created_at: row.created_at.toISOString(),
    activated_at: row.activated_at ? row.activated_at.toISOString() : null,
  };
  if (row.type === 'totp') {
    Object.assign(factor, { algorithm: row.algorithm, digits: row.digits, period: row.period });
  }
  if (row.type === 'recovery') factor.codes_left = Number(row.codes_left ?? 0);
  return factor;
}

const columns = `f.*, CASE WHEN f.type = 'recovery'
  THEN (SELECT count(*)::int FROM recovery_codes r WHERE r.factor_id = f.id AND r.used_at IS NULL) END AS codes_left`;

export class FactorStore {
  constructor(private readonly db: Database) {}

  async insertTotp(factor: {
    id: string;
    appId: string;
    userId: string;
    name: string | null;
    secretEnc: string;
    params: TotpParams;
    activeAtStep: number | null;
  }): Promise<FactorRecord> {
    const active = factor.activeAtStep !== null;
    const [row] = await this.db.query<FactorRecord>(
      `INSERT INTO factors (id, app_id, user_id, type, status, name, secret_enc, algorithm, digits, period, last_step, activated_at)
       VALUES ($1, $2, $3, 'totp', $4, $5, $6, $7, $8, $9, $10, CASE WHEN $11 THEN now() END)
       RETURNING *, NULL::int AS codes_left`,
      [
        factor.id,
        factor.appId,
        factor.userId,
        active ? 'active' : 'unverified',
        factor.name,
        factor.secretEnc,
        factor.params.algorithm,
        factor.params.digits,
        factor.params.period,
        factor.activeAtStep,
        active,
      ],
    );
    return row as FactorRecord;
  }

  async find(appId: string, factorId: string, options: { forUpdate?: boolean } = {}): Promise<FactorRecord | null> {
    // The app is checked here: with `app_id = $2` in SQL, a generic plan made before the table was first analysed
    // reads the app's every factor through factors_by_user (a tie with the primary key on a tiny table).
    const [row] = await this.db.query<FactorRecord>(
      `SELECT ${columns} FROM factors f WHERE f.id = $1${options.forUpdate ? ' FOR UPDATE OF f' : ''}`,
      [factorId],
    );
    return row?.app_id === appId ? row : null;
  }

  async listForUser(appId: string, userId: string): Promise<FactorRecord[]> {
    return this.db.query<FactorRecord>(
      `SELECT ${columns} FROM factors f WHERE f.app_id = $1 AND f.user_id = $2 ORDER BY f.id`,
      [appId, userId],
    );
  }

  /** The newest active factor of the first of `types` the user has (a user may hold several TOTP factors). */
  async findActive(appId: string, userId: string, types: readonly FactorType[]): Promise<FactorRecord | null> {
    const [row] = await this.db.query<FactorRecord>(
      `SELECT ${columns} FROM factors f
       WHERE f.app_id = $1 AND f.user_id = $2 AND f.type = ANY($3::text[]) AND f.status = 'active'
       ORDER BY array_position($3::text[], f.type), f.id DESC LIMIT 1`,
      [appId, userId, types],
    );
    return row ?? null;
  }

  async activate(factorId: string, step: number): Promise<FactorRecord> {
    const [row] = await this.db.query<FactorRecord>(
      `UPDATE factors SET status = 'active', last_step = $2, activated_at = now() WHERE id = $1
       RETURNING *, NULL::int AS codes_left`,
      [factorId, step],
    );
    return row as FactorRecord;
  }

  /** Moves the last accepted step forward; false when `step` is not newer (a replay). */
  async advanceStep(factorId: string, step: number): Promise<boolean> {
    const rows = await this.db.query(
      'UPDATE factors SET last_step = $2 WHERE id = $1 AND (last_step IS NULL OR last_step < $2) RETURNING 1',
      [factorId, step],
    );
    return rows.length > 0;
  }

  async delete(appId: string, factorId: string): Promise<void> {
    await this.db.query('DELETE FROM factors WHERE id = $1 AND app_id = $2', [factorId, appId]);
  }

  /** Replaces the user's recovery codes (the old ones stop working) with these hashes. */
  async replaceRecoveryCodes(appId: string, userId: string, factorId: string, hashes: Buffer[]): Promise<void> {
    await this.db.query("DELETE FROM factors WHERE app_id = $1 AND user_id = $2 AND type = 'recovery'", [appId, userId]);
    await this.db.query(
      `INSERT INTO factors (id, app_id, user_id, type, status, activated_at) VALUES ($1, $2, $3, 'recovery', 'active', now())`,
      [factorId, appId, userId],
    );
    await this.db.query(
      "INSERT INTO recovery_codes (factor_id, code_hash) SELECT $1, decode(h, 'hex') FROM unnest($2::text[]) AS h",
      [factorId, hashes.map((hash) => hash.toString('hex'))],
    );
  }

  /** Marks the code used; false when no unused code has this hash. Removes the factor with its last code. */
  async useRecoveryCode(factorId: string, hash: Buffer): Promise<boolean> {
    const used = await this.db.query(
      'UPDATE recovery_codes SET used_at = now() WHERE factor_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1',
      [factorId, hash],
    );
    if (used.length === 0) return false;
    await this.db.query(
      'DELETE FROM factors WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM recovery_codes WHERE factor_id = $1 AND used_at IS NULL)',
      [factorId],
    );
    return true;
  }
}
