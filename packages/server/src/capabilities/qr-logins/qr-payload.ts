import { createHmac, timingSafeEqual } from 'node:crypto';
import { qrLoginUriPrefix } from '@tessera/contracts';
import { idTimeMs, isId } from '../../platform/ids.ts';
import { pooledRandomBytes } from '../../platform/random-pool.ts';

/**
 * The login QR code's payload, signed by the server so that a waiting browser needs no database row:
 *
 *   tessera://login?server=<url-encoded base URL>&app_id=<app_…>&login_id=<qrl_…>&nonce=<22 chars>&sig=<22 chars>
 *
 * `login_id` names this QR code of one browser socket (a rotation makes a new one); its first 48 bits
 * are its creation time (ids.ts), from which the code's expiry follows. `nonce` is 128 random bits.
 * `sig` is the first 128 bits of HMAC-SHA256(key, "tessera-qr-login\n" server "\n" app_id "\n" login_id
 * "\n" nonce), base64url: a changed parameter or a made-up code does not verify. Pure: no I/O.
 */
export interface QrPayload {
  server: string;
  appId: string;
  loginId: string;
  nonce: string;
}

const base64url22 = /^[A-Za-z0-9_-]{22}$/;
const parameters = ['server', 'app_id', 'login_id', 'nonce', 'sig'];

export function signQrPayload(key: Buffer, payload: Omit<QrPayload, 'nonce'>): { uri: string; nonce: string } {
  const nonce = pooledRandomBytes(16).toString('base64url');
  const sig = signatureOf(key, { ...payload, nonce });
  const uri =
    `${qrLoginUriPrefix}server=${encodeURIComponent(payload.server)}&app_id=${payload.appId}` +
    `&login_id=${payload.loginId}&nonce=${nonce}&sig=${sig}`;
  return { uri, nonce };
}

/** The payload of a genuine QR code, or null for anything else (malformed, forged, altered). */
export function verifyQrPayload(key: Buffer, uri: string): QrPayload | null {
  if (typeof uri !== 'string' || uri.length > 1000 || !uri.startsWith(qrLoginUriPrefix)) return null;
  const params = new URLSearchParams(uri.slice(qrLoginUriPrefix.length));
  if ([...params.keys()].join() !== parameters.join()) return null;
  const [server, appId, loginId, nonce, sig] = parameters.map((name) => params.get(name) ?? '') as [string, string, string, string, string];
  if (!isId('app', appId) || !isId('qrl', loginId) || !base64url22.test(nonce) || !base64url22.test(sig)) return null;
  const payload = { server, appId, loginId, nonce };
  // The text is compared (both 22 characters): decoding would ignore the last character's unused bits.
  return timingSafeEqual(Buffer.from(signatureOf(key, payload)), Buffer.from(sig)) ? payload : null;
}

/** When the QR code with this login id stops being accepted. */
export function qrExpiresAtMs(loginId: string, ttlMs: number): number {
  return idTimeMs(loginId) + ttlMs;
}

function signatureOf(key: Buffer, payload: QrPayload): string {
  const text = ['tessera-qr-login', payload.server, payload.appId, payload.loginId, payload.nonce].join('\n');
  return createHmac('sha256', key).update(text).digest().subarray(0, 16).toString('base64url');
}
