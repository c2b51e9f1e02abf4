import { createDecipheriv, createHash, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { compactParts } from '../../platform/signed-payload.ts';

/**
 * Opens a compact JWE (RFC 7516 §7.1) made with ECDH-ES key agreement on P-256 (RFC 7518 §4.6, direct: no encrypted
 * key) and A256GCM (§5.3): the one kind an authenticator sends a QR login's profile as. It uses node:crypto's
 * synchronous calls; jose's compactDecrypt goes through WebCrypto, six round trips to the thread pool that the answer
 * of a QR login waited for. Tested with JWEs made by jose and RFC 7518 appendix C's key agreement.
 * Throws on anything else, and when the JWE does not open (a wrong key, an altered part).
 */
export function openEcdhEsJwe(jwe: string, privateKey: KeyObject): Buffer {
  const parts = compactParts(jwe, 5);
  if (!parts) throw new Error('not a compact JWE');
  const [encodedHeader, encryptedKey, iv, ciphertext, tag] = parts.map((part) => Buffer.from(part, 'base64url')) as [Buffer, Buffer, Buffer, Buffer, Buffer];
  const header = JSON.parse(encodedHeader.toString('utf8')) as Record<string, unknown>;
  if (header.alg !== 'ECDH-ES' || header.enc !== 'A256GCM') throw new Error('alg must be ECDH-ES and enc A256GCM');
  if (header.zip !== undefined || header.crit !== undefined) throw new Error('zip and crit are not supported');
  if (encryptedKey.length !== 0 || iv.length !== 12 || tag.length !== 16) throw new Error('wrong part lengths');
  const epk = header.epk as Record<string, unknown> | undefined;
  if (epk?.kty !== 'EC' || epk.crv !== 'P-256' || typeof epk.x !== 'string' || typeof epk.y !== 'string') throw new Error('epk must be a P-256 key');
  // OpenSSL refuses a point that is not on the curve (an invalid-curve attack would need one).
  const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: epk.x, y: epk.y }, format: 'jwk' });
  const partyInfo = (name: 'apu' | 'apv') => {
    const value = header[name];
    return typeof value === 'string' ? Buffer.from(value, 'base64url') : Buffer.alloc(0);
  };
  const key = concatKdf(diffieHellman({ privateKey, publicKey }), 'A256GCM', 256, partyInfo('apu'), partyInfo('apv'));
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  decipher.setAAD(Buffer.from(parts[0] as string, 'ascii'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}

/** The Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A §5.8.1) with SHA-256, for keys of at most 256 bits: one round. */
export function concatKdf(sharedSecret: Buffer, algorithm: string, keyBits: number, apu: Buffer, apv: Buffer): Buffer {
  const uint32 = (value: number) => Buffer.from([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff]);
  const withLength = (data: Buffer) => Buffer.concat([uint32(data.length), data]);
  return createHash('sha256')
    .update(uint32(1))
    .update(sharedSecret)
    .update(withLength(Buffer.from(algorithm, 'ascii')))
    .update(withLength(apu))
    .update(withLength(apv))
    .update(uint32(keyBits))
    .digest()
    .subarray(0, keyBits / 8);
}
