import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../database/database.ts';
import type { Keyring } from '../keyring.ts';
import { sha256 } from '../secrets.ts';
import { ApiError } from './api-error.ts';

export interface HttpResult {
  status: number;
  body: unknown;
}

const header = 'idempotency-key';
const keyPattern = /^[\x21-\x7e]{1,255}$/;
const retention = '24 hours';

/**
 * `Idempotency-Key` on creating calls. The key is recorded in the same transaction as the change it
 * guards, so a retry either replays the first answer or, if the first attempt rolled back, runs again;
 * a concurrent retry waits on the row's lock instead of creating twice. Answers may hold a secret that
 * is shown once, so they are stored encrypted, and kept for a day.
 */
export class Idempotency {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
  ) {}

  async run(request: FastifyRequest, reply: FastifyReply, work: () => Promise<HttpResult>): Promise<unknown> {
    const key = request.headers[header];
    if (key === undefined) return this.#send(reply, await work(), false);
    if (typeof key !== 'string' || !keyPattern.test(key)) {
      throw ApiError.invalid('Idempotency-Key', 'must be 1 to 255 visible ASCII characters');
    }
    const principal = request.principal?.kind === 'app' ? request.principal.appId : 'admin';
    const scope = `${principal}:${request.method} ${request.routeOptions.url ?? request.url}`;
    const requestHash = sha256(JSON.stringify([request.params, request.body ?? null]));
    const context = `idempotency_keys:${scope}:${key}`;

    const { result, replayed } = await this.db.transaction(async () => {
      const claimed = await this.db.query(
        `INSERT INTO idempotency_keys (scope, key, request_hash, expires_at)
         VALUES ($1, $2, $3, now() + interval '${retention}')
         ON CONFLICT (scope, key) DO UPDATE
           SET request_hash = EXCLUDED.request_hash, status_code = NULL, response_enc = NULL,
               expires_at = EXCLUDED.expires_at
           WHERE idempotency_keys.expires_at < now()
         RETURNING 1`,
        [scope, key, requestHash],
      );
      if (claimed.length === 0) {
        const [previous] = await this.db.query<{ request_hash: Buffer; status_code: number; response_enc: string }>(
          'SELECT request_hash, status_code, response_enc FROM idempotency_keys WHERE scope = $1 AND key = $2',
          [scope, key],
        );
        if (!previous || !Buffer.from(previous.request_hash).equals(requestHash)) {
          throw new ApiError('idempotency_key_reused');
        }
        const body: unknown = JSON.parse(this.keyring.decryptString(previous.response_enc, context));
        return { result: { status: previous.status_code, body }, replayed: true };
      }
      const fresh = await work();
      await this.db.query(
        'UPDATE idempotency_keys SET status_code = $3, response_enc = $4 WHERE scope = $1 AND key = $2',
        [scope, key, fresh.status, this.keyring.encrypt(JSON.stringify(fresh.body), context)],
      );
      return { result: fresh, replayed: false };
    });
    return this.#send(reply, result, replayed);
  }

  /** Forgets records older than a day (housekeeping). */
  async purgeExpired(): Promise<number> {
    const rows = await this.db.query('DELETE FROM idempotency_keys WHERE expires_at < now() RETURNING 1');
    return rows.length;
  }

  #send(reply: FastifyReply, result: HttpResult, replayed: boolean): unknown {
    reply.code(result.status);
    if (replayed) reply.header('idempotent-replayed', 'true');
    return result.body;
  }
}
