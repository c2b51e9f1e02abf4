import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Keyring } from '../../platform/keyring.ts';

/** `track`: the browser's token for the client API and the hosted page. `success`: the one `validate` accepts. */
export type TokenScope = 'track' | 'success';

export interface ActionTokenClaims {
  scope: TokenScope;
  appId: string;
  userId: string;
  action: string;
  actionId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export type TokenCheck =
  | { ok: true; claims: ActionTokenClaims }
  | { ok: false; reason: 'malformed' | 'signature' | 'expired' };

const purpose = 'action tokens';

/**
 * Action tokens: JWTs (RFC 7519) signed with HMAC-SHA256 (RFC 7515 §A.1) under a key derived from the
 * master key, named by `kid` so that tokens signed before a key rotation still verify. Computed with
 * node:crypto directly: a track signs one on every call, and this costs a few microseconds.
 */
export class ActionTokens {
  readonly #keys = new Map<string, Buffer>();

  constructor(private readonly keyring: Keyring) {}

  sign(claims: Omit<ActionTokenClaims, 'expiresAt'>, lifetimeSeconds: number, nowMs = Date.now()): string {
    const kid = this.keyring.currentKeyId;
    const header = encode({ alg: 'HS256', typ: 'JWT', kid });
    const iat = Math.floor(nowMs / 1000);
    const payload = encode({
      scp: claims.scope,
      app: claims.appId,
      sub: claims.userId,
      act: claims.action,
      aid: claims.actionId,
      iat,
      exp: iat + lifetimeSeconds,
    });
    const input = `${header}.${payload}`;
    return `${input}.${this.#mac(this.#key(kid) as Buffer, input).toString('base64url')}`;
  }

  verify(token: string, nowMs = Date.now()): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decode(headerPart);
    if (!header || header.alg !== 'HS256' || typeof header.kid !== 'string') return { ok: false, reason: 'malformed' };
    const key = this.#key(header.kid);
    // The signature's text is compared, not its decoding: base64url decoding skips stray characters and ignores the
    // last character's unused bits, so an altered token would otherwise still pass.
    const signature = Buffer.from(signaturePart);
    const expected = key ? Buffer.from(this.#mac(key, `${headerPart}.${payloadPart}`).toString('base64url')) : null;
    if (!expected || signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      return { ok: false, reason: 'signature' };
    }
    const claims = decode(payloadPart);
    const scope = claims?.scp;
    if (
      !claims ||
      (scope !== 'track' && scope !== 'success') ||
      typeof claims.exp !== 'number' ||
      ![claims.app, claims.sub, claims.act, claims.aid].every((value) => typeof value === 'string')
    ) {
      return { ok: false, reason: 'malformed' };
    }
    if (claims.exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    return {
      ok: true,
      claims: {
        scope,
        appId: claims.app as string,
        userId: claims.sub as string,
        action: claims.act as string,
        actionId: claims.aid as string,
        expiresAt: claims.exp,
      },
    };
  }

  // Only the keyring's own key ids are cached: a token may name any kid.
  #key(kid: string): Buffer | null {
    const cached = this.#keys.get(kid);
    if (cached) return cached;
    const key = this.keyring.derivedKey(purpose, kid);
    if (key) this.#keys.set(kid, key);
    return key;
  }

  #mac(key: Buffer, input: string): Buffer {
    return createHmac('sha256', key).update(input).digest();
  }
}

function encode(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decode(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
