import type { App, AppConfig } from '@tessera/contracts';
import type { Database } from '../../platform/database/database.ts';

/** An app with what only the server sees: the hash of its secret and its encrypted webhook secret. */
export interface AppRecord {
  app: App;
  secretHash: Buffer;
  webhookSecretEnc: string;
}

/** A row of `apps`: the configuration as the API shows it, plus what only the server sees. */
interface AppRow extends AppConfig {
  id: string;
  secret_hash: Uint8Array;
  webhook_secret_enc: string;
  created_at: Date;
  updated_at: Date;
}

const columns = `id, name, active, issuer_name, callback_url, challenge_default_message, branding,
  profile_scopes, allowed_origins, allowed_ips, secret_hash, webhook_secret_enc, created_at, updated_at`;

function toRecord(row: AppRow): AppRecord {
  return {
    app: {
      app_id: row.id,
      name: row.name,
      active: row.active,
      issuer_name: row.issuer_name,
      callback_url: row.callback_url,
      challenge_default_message: row.challenge_default_message,
      branding: row.branding,
      profile_scopes: row.profile_scopes,
      allowed_origins: row.allowed_origins,
      allowed_ips: row.allowed_ips,
      created_at: row.created_at.toISOString(),
      updated_at: row.updated_at.toISOString(),
    },
    secretHash: Buffer.from(row.secret_hash),
    webhookSecretEnc: row.webhook_secret_enc,
  };
}

// Parameters $2…$10 in the order of the config columns.
function configParams(config: AppConfig): unknown[] {
  return [
    config.name,
    config.active,
    config.issuer_name,
    config.callback_url,
    config.challenge_default_message,
    JSON.stringify(config.branding),
    config.profile_scopes,
    config.allowed_origins,
    config.allowed_ips,
  ];
}

export class AppStore {
  constructor(private readonly db: Database) {}

  async insert(id: string, config: AppConfig, secretHash: Buffer, webhookSecretEnc: string): Promise<AppRecord> {
    const [row] = await this.db.query<AppRow>(
      `INSERT INTO apps (id, name, active, issuer_name, callback_url, challenge_default_message, branding,
         profile_scopes, allowed_origins, allowed_ips, secret_hash, webhook_secret_enc)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)
       RETURNING ${columns}`,
      [id, ...configParams(config), secretHash, webhookSecretEnc],
    );
    return toRecord(row as AppRow);
  }

  async find(id: string, options: { forUpdate?: boolean } = {}): Promise<AppRecord | null> {
    const [row] = await this.db.query<AppRow>(
      `SELECT ${columns} FROM apps WHERE id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return row ? toRecord(row) : null;
  }

  async list(limit: number, startingAfter: string | null): Promise<AppRecord[]> {
    const rows = await this.db.query<AppRow>(
      `SELECT ${columns} FROM apps WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2`,
      [startingAfter, limit],
    );
    return rows.map(toRecord);
  }

  async updateConfig(id: string, config: AppConfig): Promise<AppRecord | null> {
    const [row] = await this.db.query<AppRow>(
      `UPDATE apps SET name = $2, active = $3, issuer_name = $4, callback_url = $5, challenge_default_message = $6,
         branding = $7::jsonb, profile_scopes = $8, allowed_origins = $9, allowed_ips = $10, updated_at = now()
       WHERE id = $1 RETURNING ${columns}`,
      [id, ...configParams(config)],
    );
    return row ? toRecord(row) : null;
  }

  async updateSecretHash(id: string, secretHash: Buffer): Promise<boolean> {
    const rows = await this.db.query('UPDATE apps SET secret_hash = $2, updated_at = now() WHERE id = $1 RETURNING 1', [
      id,
      secretHash,
    ]);
    return rows.length > 0;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM apps WHERE id = $1 RETURNING 1', [id])).length > 0;
  }
}
