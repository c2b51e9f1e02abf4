import { createHmac } from 'node:crypto';

// Crockford's base32, lower case, as ids.ts spells ids.
const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * The person's id for one app: `idn_` + 26 base32 characters (130 bits) of HMAC-SHA256(key, app_id
 * "\n" identity thumbprint). Stable for an app, unrelated across apps (they cannot join their users on
 * it), and not reversible to the identity key without the server's key.
 */
export function pairwiseIdentityId(key: Buffer, appId: string, identityThumbprint: string): string {
  const digest = createHmac('sha256', key).update(`${appId}\n${identityThumbprint}`).digest();
  let value = BigInt(`0x${digest.subarray(0, 17).toString('hex')}`);
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = alphabet[Number(value & 31n)] + out;
    value >>= 5n;
  }
  return `idn_${out}`;
}
