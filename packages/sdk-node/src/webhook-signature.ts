import { createHmac, timingSafeEqual } from 'node:crypto';

const secretPrefix = 'whsec_';
const signatureVersion = 'v1';

/** The HMAC key of a webhook secret: the bytes that `whsec_<base64>` encodes (the prefix is optional). */
export function webhookKey(secret: string): Buffer {
  const encoded = secret.startsWith(secretPrefix) ? secret.slice(secretPrefix.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || key.length === 0) {
    throw new TypeError('The webhook secret must be "whsec_" followed by base64, as Tessera shows it.');
  }
  return key;
}

/** The Standard Webhooks MAC: HMAC-SHA256 over `id.timestamp.body`, over the body's exact bytes. */
export function webhookMac(key: Buffer, id: string, timestamp: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

/**
 * Whether any `v1,<base64>` entry of a `webhook-signature` header is the expected MAC. Entries of other
 * versions are skipped, so that a sender may add new ones; each comparison takes constant time.
 */
export function signatureHeaderMatches(header: string, expected: Buffer): boolean {
  let matched = false;
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== signatureVersion) continue;
    const candidate = Buffer.from(entry.slice(comma + 1), 'base64');
    // Lengths are public (every v1 MAC is 32 bytes); timingSafeEqual needs them equal.
    if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched;
}
