import type { ProfileField, QrLoginBrowser } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';
import { RecentWrites } from '../../platform/recent-writes.ts';

export type QrLoginStatus = 'claimed' | 'approved' | 'denied' | 'verified' | 'expired';

export interface QrLoginRecord {
  id: string;
  nonce: string;
  app_id: string;
  status: QrLoginStatus;
  identity_thumbprint: string;
  identity_id: string;
  requested_fields: ProfileField[];
  consented_fields: ProfileField[] | null;
  private_key_enc: string | null;
  encrypted_profile: string | null;
  browser_ip: string;
  browser_user_agent: string;
  expires_at: Date;
}

/** Where a login got to since its browser was shown its code; `expires_at` of a claimed one: its answer's deadline. */
export type QrLoginProgress = Pick<QrLoginRecord, 'id' | 'expires_at'> & { status: 'claimed' | 'approved' | 'denied' };

/** Why a login token was refused. */
export type TokenRefusal = 'invalid' | 'used' | 'expired';

export class QrLoginStore {
  /** The logins this instance recorded claims of lately, for the answer that follows (`findClaimed`). */
  readonly #recentClaims = new RecentWrites<QrLoginRecord>();

  constructor(private readonly db: Database) {}

  /** Records the claim; null when the login was already claimed (by anyone), else until when it may be answered. */
  async insertClaim(claim: {
    id: string;
    nonce: string;
    appId: string;
    thumbprint: string;
    identityId: string;
    requestedFields: ProfileField[];
    sealedPrivateKey: string;
    browser: QrLoginBrowser;
    answerSeconds: number;
  }): Promise<Date | null> {
    const [row] = await this.db.query<{ expires_at: Date }>(
      `INSERT INTO qr_logins (id, nonce, app_id, status, identity_thumbprint, identity_id, requested_fields, private_key_enc,
         browser_ip, browser_user_agent, expires_at)
       VALUES ($1, $2, $3, 'claimed', $4, $5, $6, $7, $8, $9, now() + $10 * interval '1 millisecond')
       ON CONFLICT (id) DO NOTHING RETURNING expires_at`,
      [
        claim.id,
        claim.nonce,
        claim.appId,
        claim.thumbprint,
        claim.identityId,
        claim.requestedFields,
        claim.sealedPrivateKey,
        claim.browser.ip,
        claim.browser.user_agent,
        claim.answerSeconds * 1000,
      ],
    );
    if (!row) return null;
    this.#recentClaims.add(claim.id, {
      id: claim.id,
      nonce: claim.nonce,
      app_id: claim.appId,
      status: 'claimed',
      identity_thumbprint: claim.thumbprint,
      identity_id: claim.identityId,
      requested_fields: claim.requestedFields,
      consented_fields: null,
      private_key_enc: claim.sealedPrivateKey,
      encrypted_profile: null,
      browser_ip: claim.browser.ip,
      browser_user_agent: claim.browser.user_agent,
      expires_at: row.expires_at,
    });
    return row.expires_at;
  }

  /**
   * The login for its answer: as this instance recorded its claim, when it did (what the claim wrote does not change
   * while the login is claimed, and `deny`/`approve` check the status and the expiry again), else as read.
   */
  async findClaimed(id: string): Promise<(QrLoginRecord & { expired: boolean }) | null> {
    const claimed = this.#recentClaims.take(id);
    if (claimed) return { ...claimed, expired: claimed.expires_at.getTime() <= Date.now() };
    return this.find(id);
  }

  /** The login, with whether it has expired by the database's clock. */
  async find(id: string): Promise<(QrLoginRecord & { expired: boolean }) | null> {
    const [row] = await this.db.query<QrLoginRecord & { expired: boolean }>('SELECT *, expires_at <= now() AS expired FROM qr_logins WHERE id = $1', [id]);
    return row ?? null;
  }

  /** Of these logins, the ones claimed (scanned: with until when they may be answered), approved or denied. */
  async progressOf(ids: string[]): Promise<QrLoginProgress[]> {
    return this.db.query<QrLoginProgress>(
      `SELECT id, status, expires_at FROM qr_logins WHERE id = ANY($1::text[]) AND status IN ('claimed', 'approved', 'denied')`,
      [ids],
    );
  }

  /** Denies a login still claimed and in time (deleting its key); false when it was not. */
  async deny(id: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE qr_logins SET status = 'denied', answered_at = now(), private_key_enc = NULL
       WHERE id = $1 AND status = 'claimed' AND expires_at > now() RETURNING 1`,
      [id],
    );
    return rows.length > 0;
  }

  /**
   * Approves a login still claimed and in time (its token, hashed, valid for `tokenSeconds` from now; the consented
   * fields and their JWE) and, in the same statement, answers the user its identity is linked to and the newest device
   * it registered (the one to notify), both null for none; null when the login was no longer claimed or in time.
   */
  async approve(
    login: Pick<QrLoginRecord, 'id' | 'app_id' | 'identity_id' | 'identity_thumbprint'>,
    approval: { tokenHash: Buffer; consented: ProfileField[]; encryptedProfile: string | null; tokenSeconds: number },
  ): Promise<{ userId: string | null; deviceId: string | null } | null> {
    const [row] = await this.db.query<{ approved: boolean; user_id: string | null; device_id: string | null }>(
      `WITH approved AS (
         UPDATE qr_logins SET status = 'approved', answered_at = now(), token_hash = $2, consented_fields = $3,
           encrypted_profile = $4, expires_at = now() + $5 * interval '1 millisecond'
         WHERE id = $1 AND status = 'claimed' AND expires_at > now()
         RETURNING 1
       )
       SELECT EXISTS (SELECT 1 FROM approved) AS approved, (${linkedUserQuery('$6', '$7', '$8')}) AS user_id,
         (SELECT id FROM devices WHERE app_id = $6 AND identity_thumbprint = $8 ORDER BY created_at DESC LIMIT 1) AS device_id`,
      [
        login.id,
        approval.tokenHash,
        approval.consented,
        approval.encryptedProfile,
        approval.tokenSeconds * 1000,
        login.app_id,
        login.identity_id,
        login.identity_thumbprint,
      ],
    );
    if (!row?.approved) return null;
    return { userId: row.user_id, deviceId: row.device_id };
  }

  /**
   * Uses the token up, once: one statement that marks the login verified and deletes its key and JWE,
   * answering what they were. Of concurrent verifications one gets the row; the others wait for its
   * lock, then find it verified.
   */
  async redeemToken(
    tokenHash: Buffer,
    appId: string,
  ): Promise<Pick<QrLoginRecord, 'id' | 'identity_thumbprint' | 'identity_id' | 'consented_fields' | 'private_key_enc' | 'encrypted_profile'> | TokenRefusal> {
    const [row] = await this.db.query<QrLoginRecord>(
      `UPDATE qr_logins q SET status = 'verified', verified_at = now(), private_key_enc = NULL, encrypted_profile = NULL
       FROM (SELECT id, private_key_enc, encrypted_profile FROM qr_logins
             WHERE token_hash = $1 AND app_id = $2 AND status = 'approved' AND expires_at > now() FOR UPDATE) old
       WHERE q.id = old.id
       RETURNING q.id, q.identity_thumbprint, q.identity_id, q.consented_fields, old.private_key_enc, old.encrypted_profile`,
      [tokenHash, appId],
    );
    if (row) return row;
    const [state] = await this.db.query<{ status: QrLoginStatus }>(
      'SELECT status FROM qr_logins WHERE token_hash = $1 AND app_id = $2',
      [tokenHash, appId],
    );
    if (!state) return 'invalid';
    return state.status === 'verified' ? 'used' : 'expired';
  }

  /**
   * Ends open logins whose time is up (deleting their keys and JWEs) and forgets logins older than a day;
   * answers how many ended.
   */
  async expireDue(): Promise<number> {
    const ended = await this.db.query(
      `UPDATE qr_logins SET status = 'expired', private_key_enc = NULL, encrypted_profile = NULL
       WHERE status IN ('claimed', 'approved') AND expires_at <= now() RETURNING id`,
    );
    await this.db.query(`DELETE FROM qr_logins WHERE created_at < now() - interval '1 day'`);
    return ended.length;
  }

  /** The app's user for this identity: its own link first, else the user of the newest device the identity registered. */
  async linkedUser(appId: string, identityId: string, thumbprint: string): Promise<string | null> {
    const [row] = await this.db.query<{ user_id: string }>(linkedUserQuery('$1', '$2', '$3'), [appId, identityId, thumbprint]);
    return row?.user_id ?? null;
  }

  /**
   * Links an identity to a user, if a QR login of this app verified it (logins are kept a day); answers the user it
   * is linked to (another one if it already was), or null for an identity the app has not seen.
   */
  async link(appId: string, identityId: string, userId: string): Promise<string | null> {
    await this.db.query(
      `INSERT INTO identity_links (app_id, identity_id, user_id)
       SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM qr_logins WHERE app_id = $1 AND identity_id = $2 AND status = 'verified')
       ON CONFLICT (app_id, identity_id) DO NOTHING`,
      [appId, identityId, userId],
    );
    const [row] = await this.db.query<{ user_id: string }>(
      'SELECT user_id FROM identity_links WHERE app_id = $1 AND identity_id = $2',
      [appId, identityId],
    );
    return row?.user_id ?? null;
  }
}

/**
 * The user an identity signs in as, for its app: the link made by the app, else the user of a device that identity
 * registered, the newest first.
 */
function linkedUserQuery(appId: string, identityId: string, thumbprint: string): string {
  return `SELECT user_id FROM (
      SELECT user_id, 0 AS rank, created_at FROM identity_links WHERE app_id = ${appId} AND identity_id = ${identityId}
      UNION ALL
      SELECT user_id, 1, created_at FROM devices WHERE app_id = ${appId} AND identity_thumbprint = ${thumbprint}
    ) candidates ORDER BY rank, created_at DESC LIMIT 1`;
}
