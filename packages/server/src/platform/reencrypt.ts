import type { Logger } from 'pino';
import type { Database } from './database/database.ts';
import { inSlices } from './in-slices.ts';
import type { Keyring } from './keyring.ts';

/** A column that holds keyring envelopes, and the context each row's value was sealed with. */
export interface EncryptedColumn {
  table: string;
  idColumn: string;
  column: string;
  context: (id: string) => string;
}

const batchSize = 100;

/**
 * After a master key rotation, seals every value still under a previous key again under the current
 * one, in small transactions, so that the previous key can be retired. Safe to run on several
 * instances at once: each row is re-read under lock and skipped if another got there first.
 */
export async function reencryptUnderCurrentKey(
  db: Database,
  keyring: Keyring,
  columns: readonly EncryptedColumn[],
  log: Logger,
): Promise<number> {
  const currentPrefix = `tk1.${keyring.currentKeyId}.`;
  let total = 0;
  for (const { table, idColumn, column, context } of columns) {
    total += await inSlices(batchSize, (limit) =>
      db.transaction(async () => {
        const rows = await db.query<{ id: string; value: string }>(
          `SELECT ${idColumn} AS id, ${column} AS value FROM ${table}
           WHERE ${column} IS NOT NULL AND NOT starts_with(${column}, $1)
           LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
          [currentPrefix],
        );
        for (const row of rows) {
          const sealed = keyring.encrypt(keyring.decrypt(row.value, context(row.id)), context(row.id));
          await db.query(`UPDATE ${table} SET ${column} = $2 WHERE ${idColumn} = $1`, [row.id, sealed]);
        }
        return rows.length;
      }),
    );
  }
  if (total > 0) log.info({ count: total }, 're-encrypted secrets under the current master key');
  return total;
}
