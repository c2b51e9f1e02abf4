import { randomBytes } from 'node:crypto';
import type { Database } from './database/database.ts';
import type { Keyring } from './keyring.ts';

/** The context a server secret is sealed with (the keyring binds it, so a copied value does not open). */
export const serverSecretContext = (name: string) => `server_secrets:${name}`;

/**
 * A random 32-byte secret that every instance sharing the database uses (a signing or derivation key),
 * made by whichever instance needs it first and sealed with the keyring. Stable across master key
 * rotations: the re-encryption seals it anew, its value stays.
 */
export async function serverSecret(db: Database, keyring: Keyring, name: string): Promise<Buffer> {
  const fresh = keyring.encrypt(randomBytes(32), serverSecretContext(name));
  // Instances starting together: the first insert wins, the others read the winner's.
  await db.query('INSERT INTO server_secrets (name, secret_enc) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, fresh]);
  const [row] = await db.query<{ secret_enc: string }>('SELECT secret_enc FROM server_secrets WHERE name = $1', [name]);
  if (!row) throw new Error(`server secret ${name} is missing`);
  return keyring.decrypt(row.secret_enc, serverSecretContext(name));
}
