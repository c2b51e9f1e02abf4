import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const version = 'tk1';
const ivLength = 12;
const tagLength = 16;

export class KeyringError extends Error {
  override name = 'KeyringError';
}

/**
 * Envelope encryption for secrets at rest (AES-256-GCM). Each value gets its own random data key,
 * wrapped by the master key; the envelope names the master key by a fingerprint, so that after a
 * rotation the previous keys still open old values and `isCurrent` tells which ones to re-encrypt.
 *
 * Envelope: `tk1.<master key id>.<wrapped data key>.<ciphertext>`, each part base64url, the last two
 * as iv‖ciphertext‖tag. The caller's `context` (e.g. `apps.webhook_secret:app_…`) is bound as
 * additional authenticated data, so a value copied to another row or column does not decrypt.
 */
export class Keyring {
  readonly currentKeyId: string;
  readonly #current: Buffer;
  readonly #keys: Map<string, Buffer>;

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    for (const key of [current, ...previous]) {
      if (key.length !== 32) throw new KeyringError('a master key must be 32 bytes');
    }
    this.#current = current;
    this.currentKeyId = keyId(current);
    this.#keys = new Map([...previous, current].map((key) => [keyId(key), key]));
  }

  encrypt(plaintext: string | Buffer, context: string): string {
    const dataKey = randomBytes(32);
    const wrapped = seal(this.#current, dataKey, `${version}:wrap`);
    const sealed = seal(dataKey, Buffer.from(plaintext), `${version}:${context}`);
    return [version, this.currentKeyId, wrapped.toString('base64url'), sealed.toString('base64url')].join('.');
  }

  decrypt(envelope: string, context: string): Buffer {
    const [tag, kid, wrapped, sealed, ...rest] = envelope.split('.');
    if (tag !== version || kid === undefined || wrapped === undefined || sealed === undefined || rest.length) {
      throw new KeyringError('not an encrypted value');
    }
    const masterKey = this.#keys.get(kid);
    if (!masterKey) throw new KeyringError(`master key ${kid} is not configured`);
    const dataKey = open(masterKey, Buffer.from(wrapped, 'base64url'), `${version}:wrap`);
    return open(dataKey, Buffer.from(sealed, 'base64url'), `${version}:${context}`);
  }

  decryptString(envelope: string, context: string): string {
    return this.decrypt(envelope, context).toString('utf8');
  }

  /**
   * A 32-byte key for `purpose` (say, signing tokens), derived from the master key `kid` with HKDF-SHA256
   * (RFC 5869): the current key when `kid` is omitted, a previous one to check what it signed; null when unknown.
   */
  derivedKey(purpose: string, kid: string = this.currentKeyId): Buffer | null {
    const masterKey = this.#keys.get(kid);
    return masterKey ? Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `tessera:${purpose}`, 32)) : null;
  }

  /** Whether the value is sealed under the current master key (false: re-encrypt it). */
  isCurrent(envelope: string): boolean {
    return envelope.startsWith(`${version}.${this.currentKeyId}.`);
  }
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('tessera master key id').update(key).digest('hex').slice(0, 12);
}

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const iv = randomBytes(ivLength);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < ivLength + tagLength) throw new KeyringError('encrypted value is truncated');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, ivLength));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(sealed.length - tagLength));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(ivLength, sealed.length - tagLength)), decipher.final()]);
  } catch {
    throw new KeyringError('encrypted value does not authenticate (wrong key or context, or altered)');
  }
}
