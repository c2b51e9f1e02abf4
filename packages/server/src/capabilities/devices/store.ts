import type { DeviceAlgorithm, DevicePublicJwk } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';

export interface DeviceRecord {
  id: string;
  app_id: string;
  user_id: string;
  factor_id: string;
  public_key: DevicePublicJwk;
  key_thumbprint: string;
  identity_thumbprint: string | null;
  alg: DeviceAlgorithm;
  name: string | null;
  created_at: Date;
  last_seen_at: Date | null;
}

/** Why a registration token could not be redeemed. */
export type RedeemOutcome =
  | { ok: true; appId: string; userId: string }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export class DeviceStore {
  constructor(private readonly db: Database) {}

  /** Stores a registration token's hash; answers when it expires (by the database's clock, which redeeming uses). */
  async insertRegistration(tokenHash: Buffer, appId: string, userId: string, ttlSeconds: number): Promise<Date> {
    const [row] = await this.db.query<{ expires_at: Date }>(
      `INSERT INTO device_registrations (token_hash, app_id, user_id, expires_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond') RETURNING expires_at`,
      [tokenHash, appId, userId, Math.round(ttlSeconds * 1000)],
    );
    return (row as { expires_at: Date }).expires_at;
  }

  /**
   * Forgets the registrations that ended more than a day ago (housekeeping); answers how many. Kept until then
   * so that a late attempt hears "used" or "expired" rather than "unknown".
   */
  async purgeEndedRegistrations(): Promise<number> {
    const rows = await this.db.query(`DELETE FROM device_registrations WHERE expires_at < now() - interval '1 day' RETURNING 1`);
    return rows.length;
  }

  /**
   * Marks the token used by `deviceId`, if it is unused and unexpired. The conditional UPDATE takes the
   * row's lock: of concurrent redemptions, the others wait, then find it used.
   */
  async redeemRegistration(tokenHash: Buffer, deviceId: string): Promise<RedeemOutcome> {
    const [row] = await this.db.query<{ app_id: string; user_id: string }>(
      `UPDATE device_registrations SET used_at = now(), device_id = $2
       WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()
       RETURNING app_id, user_id`,
      [tokenHash, deviceId],
    );
    if (row) return { ok: true, appId: row.app_id, userId: row.user_id };
    const [state] = await this.db.query<{ used: boolean }>(
      'SELECT used_at IS NOT NULL AS used FROM device_registrations WHERE token_hash = $1',
      [tokenHash],
    );
    if (!state) return { ok: false, reason: 'unknown' };
    return { ok: false, reason: state.used ? 'used' : 'expired' };
  }

  /** The push factor a device answers for: active from the start, since holding the key is the proof. */
  async insertPushFactor(factorId: string, appId: string, userId: string, name: string | null): Promise<void> {
    await this.db.query(
      `INSERT INTO factors (id, app_id, user_id, type, status, name, activated_at)
       VALUES ($1, $2, $3, 'push', 'active', $4, now())`,
      [factorId, appId, userId, name],
    );
  }

  /** Inserts the device; null when its key is already registered (key_thumbprint is unique). */
  async insertDevice(device: {
    id: string;
    appId: string;
    userId: string;
    factorId: string;
    publicKey: DevicePublicJwk;
    thumbprint: string;
    identityThumbprint: string | null;
    alg: DeviceAlgorithm;
    name: string | null;
  }): Promise<DeviceRecord | null> {
    const [row] = await this.db.query<DeviceRecord>(
      `INSERT INTO devices (id, app_id, user_id, factor_id, public_key, key_thumbprint, identity_thumbprint, alg, name)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (key_thumbprint) DO NOTHING
       RETURNING *`,
      [
        device.id,
        device.appId,
        device.userId,
        device.factorId,
        JSON.stringify(device.publicKey),
        device.thumbprint,
        device.identityThumbprint,
        device.alg,
        device.name,
      ],
    );
    return row ?? null;
  }

  async find(deviceId: string): Promise<DeviceRecord | null> {
    const [row] = await this.db.query<DeviceRecord>('SELECT * FROM devices WHERE id = $1', [deviceId]);
    return row ?? null;
  }

  async findForApp(appId: string, deviceId: string): Promise<DeviceRecord | null> {
    const [row] = await this.db.query<DeviceRecord>('SELECT * FROM devices WHERE id = $1 AND app_id = $2', [deviceId, appId]);
    return row ?? null;
  }

  async listForUser(appId: string, userId: string): Promise<DeviceRecord[]> {
    return this.db.query<DeviceRecord>('SELECT * FROM devices WHERE app_id = $1 AND user_id = $2 ORDER BY id', [appId, userId]);
  }

  /**
   * Records that the device was seen, at most once a minute so that authenticated reads do not each
   * write; answers the updated device, or null when it was seen less than a minute ago.
   */
  async touch(deviceId: string): Promise<DeviceRecord | null> {
    const [row] = await this.db.query<DeviceRecord>(
      `UPDATE devices SET last_seen_at = now()
       WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < now() - interval '1 minute')
       RETURNING *`,
      [deviceId],
    );
    return row ?? null;
  }
}
