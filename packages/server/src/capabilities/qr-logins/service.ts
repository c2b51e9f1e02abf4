import {
  profileFields,
  type App,
  type ProfileField,
  type QrLoginClaim,
  type QrLoginClaimRequest,
  type QrLoginServerMessage,
  type QrLoginVerification,
} from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import { ApiError } from '../../platform/http/api-error.ts';
import { isId, newId } from '../../platform/ids.ts';
import type { Keyring } from '../../platform/keyring.ts';
import type { NonceStore } from '../../platform/nonce-store.ts';
import type { RateLimiter } from '../../platform/rate-limiter.ts';
import { randomToken, sha256 } from '../../platform/secrets.ts';
import type { AppService } from '../apps/service.ts';
import type { UserService } from '../users/service.ts';
import type { Outbox } from '../webhooks/outbox.ts';
import { LoginProofError, verifyLoginProof, type VerifiedLoginProof } from './login-proof.ts';
import { pairwiseIdentityId } from './pairwise.ts';
import { decryptProfile, newLoginKey, ProfileError } from './profile-crypto.ts';
import { qrExpiresAtMs, signQrPayload, verifyQrPayload } from './qr-payload.ts';
import { defaultMaxSocketsPerIp, QrSocketHub, type HubOptions, type IssuedQr } from './socket-hub.ts';
import { QrLoginStore, type QrLoginStatus } from './store.ts';

export interface QrLoginOptions {
  /** How long a QR code is accepted (60 s); the browser gets a new one 1–2 × `hub.rotateLeadMs` before (its first one earlier, at random). */
  qrTtlSeconds: number;
  /** How long the person has to answer after the scan (120 s). */
  answerSeconds: number;
  /** How long a login token verifies (120 s). */
  tokenSeconds: number;
  /** How far a proof's signed_at may be from the server's clock (60 s). */
  proofSkewMs: number;
  /**
   * Browser sockets one address may open in a minute for one app (300: six times the sockets it may hold open); more
   * get 429. Each opening draws a QR code, so this bounds the drawing one address can cause by opening and closing
   * sockets. Counted per app too, so that one app's visitors behind a shared address do not use up another's.
   */
  socketOpensPerIpPerMinute: number;
  hub: HubOptions;
}

/** Options given in part; the rest (of the hub's too) take their defaults. */
export type QrLoginSettings = Partial<Omit<QrLoginOptions, 'hub'>> & { hub?: Partial<HubOptions> };

export const defaultQrLoginOptions: QrLoginOptions = {
  qrTtlSeconds: 60,
  answerSeconds: 120,
  tokenSeconds: 120,
  proofSkewMs: 60_000,
  socketOpensPerIpPerMinute: 6 * defaultMaxSocketsPerIp,
  hub: {
    rotateLeadMs: 10_000,
    sessionMs: 600_000,
    pingIntervalMs: 30_000,
    maxBufferedBytes: 256 * 1024,
    locateTimeoutMs: 2_000,
    maxSocketsPerIp: defaultMaxSocketsPerIp,
  },
};

export interface QrLoginDeps {
  db: Database;
  bus: RealtimeBus;
  keyring: Keyring;
  nonces: NonceStore;
  rateLimiter: RateLimiter;
  apps: AppService;
  users: UserService;
  outbox: Outbox;
  publicUrl: string;
  /** The QR payload signing key and the pairwise identity key (server-secrets.ts). */
  keys: { qrSigning: Buffer; pairwise: Buffer };
  onError: (error: unknown) => void;
}

const maxUserAgentLength = 512;

/**
 * QR login: a waiting browser holds a server-signed QR code and no database row; the authenticator
 * that scans it claims it (a row, a key made for this login), then approves or denies with its
 * identity key; the browser receives a one-time token that the app's backend verifies once, which
 * opens the profile and deletes the key.
 */
export class QrLoginService {
  readonly hub: QrSocketHub;
  readonly #store: QrLoginStore;
  readonly #options: QrLoginOptions;

  constructor(
    private readonly deps: QrLoginDeps,
    options: QrLoginSettings = {},
  ) {
    this.#store = new QrLoginStore(deps.db);
    this.#options = { ...defaultQrLoginOptions, ...options, hub: { ...defaultQrLoginOptions.hub, ...options.hub } };
    this.hub = new QrSocketHub(deps.bus, deps.keyring, (appId) => this.#issueQr(appId), this.#options.hub, deps.onError, (ids) =>
      this.#store.progressOf(ids),
    );
  }

  /** Checks that this app's browsers may open a socket from this origin (before the upgrade). */
  async checkBrowser(appId: string, origin: string | undefined, ip: string): Promise<void> {
    const app = await this.#activeApp(appId);
    if (app.allowed_origins.length > 0 && (origin === undefined || !app.allowed_origins.includes(origin))) {
      throw new ApiError('origin_not_allowed', `The origin ${origin ?? '(none)'} may not use QR login for this app.`);
    }
    if (!this.hub.hasRoomFor(ip)) {
      throw new ApiError('rate_limited', 'Too many QR login sockets are open from this address; close some, or retry later.', {
        headers: { 'retry-after': '30' },
      });
    }
    const opens = await this.deps.rateLimiter.hit(`qr-connect:${appId}:${ip}`, this.#options.socketOpensPerIpPerMinute, 60);
    if (!opens.allowed) {
      throw new ApiError('rate_limited', 'Too many QR login sockets were opened from this address in the last minute; retry later.', {
        headers: { 'retry-after': String(opens.retryAfterSeconds) },
      });
    }
  }

  attachBrowser(ws: Parameters<QrSocketHub['attach']>[0], appId: string, ip: string, userAgent: string | undefined): void {
    this.hub.attach(ws, appId, ip, (userAgent ?? '').slice(0, maxUserAgentLength));
  }

  /**
   * The authenticator scanned a code: checks the code and the proof, asks the browser's instance where
   * the browser is, and records the claim. A second claim of the same code is refused.
   */
  async claim(request: QrLoginClaimRequest): Promise<QrLoginClaim> {
    const payload = verifyQrPayload(this.deps.keys.qrSigning, request.qr_payload);
    if (!payload) throw new ApiError('qr_payload_invalid');
    if (Date.now() >= qrExpiresAtMs(payload.loginId, this.#options.qrTtlSeconds * 1000)) throw new ApiError('qr_login_expired');
    const { proof, thumbprint } = await this.#verifyProof(request.proof, payload.loginId, payload.nonce, ['claim']);
    const app = await this.#activeApp(payload.appId);
    const browser = await this.hub.locate(payload.loginId);
    if (!browser) throw new ApiError('qr_login_expired', 'The page that showed this QR code has replaced it or is gone: scan the new one.');
    const key = await newLoginKey(this.deps.keyring, payload.loginId);
    const requestedFields = app.profile_scopes.filter((scope): scope is ProfileField => profileFields.includes(scope as ProfileField));
    const expiresAt = await this.#store.insertClaim({
      id: payload.loginId,
      nonce: payload.nonce,
      appId: app.app_id,
      thumbprint,
      identityId: pairwiseIdentityId(this.deps.keys.pairwise, app.app_id, thumbprint),
      requestedFields,
      sealedPrivateKey: key.sealedPrivateKey,
      browser,
      answerSeconds: this.#options.answerSeconds,
    });
    if (!expiresAt) throw new ApiError('qr_login_already_claimed');
    this.hub.publish({ type: 'scanned', login_id: proof.login_id, answer_until_ms: expiresAt.getTime() });
    return {
      login_id: payload.loginId,
      app: { app_id: app.app_id, display_name: displayNameOf(app), logo: app.branding.logo },
      requested_fields: requestedFields,
      browser,
      encryption_key: key.publicJwk,
      expires_at: expiresAt.toISOString(),
    };
  }

  /**
   * The claimer's approve or deny. The login is read while the proof is checked (unless this instance recorded its
   * claim: QrLoginStore.findClaimed); the answer is then one conditional
   * statement (it applies only to a login still claimed and in time, so concurrent answers and the expiry sweep need
   * no lock), in one transaction with the event when the app takes events. The browser and the device hear of it
   * after the commit.
   */
  async answer(loginId: string, proofJws: unknown): Promise<{ status: 'approved' | 'denied' }> {
    if (!isId('qrl', loginId)) throw new ApiError('qr_login_not_found');
    const [login, verified] = await Promise.all([this.#store.findClaimed(loginId), this.#verifyProof(proofJws, loginId, null, ['approve', 'deny'])]);
    const { proof } = verified;
    if (!login || login.status !== 'claimed' || login.expired) throw answerRefusal(login);
    if (login.identity_thumbprint !== verified.thumbprint) throw new ApiError('qr_login_wrong_identity');
    if (proof.nonce !== login.nonce) throw new ApiError('qr_login_proof_malformed', 'The proof is signed for another QR code.');
    if (proof.action === 'deny') {
      if (!(await this.#store.deny(loginId))) throw answerRefusal(await this.#store.find(loginId));
      this.hub.publish({ type: 'denied', login_id: loginId });
      return { status: 'denied' };
    }
    // The page must still be there to receive the token: otherwise the phone would be told of a sign-in that no
    // browser gets (the claim checks this too, but the page may have closed since).
    if (!(await this.hub.locate(loginId))) {
      // Gone because the login was answered meanwhile (by another instance, say): say that rather than "gone".
      const current = await this.#store.find(loginId);
      if (current?.status !== 'claimed') throw answerRefusal(current);
      throw new ApiError('qr_login_expired', 'The page that showed this QR code is gone: nothing can be signed in.');
    }
    const fields = proof.fields ?? [];
    const notRequested = fields.find((field) => !login.requested_fields.includes(field));
    if (notRequested) throw ApiError.invalid('proof.fields', `${notRequested} was not requested by this app`);
    if (proof.profile !== undefined) {
      try {
        decryptProfile(this.deps.keyring, loginId, login.private_key_enc as string, proof.profile, fields);
      } catch (error) {
        if (error instanceof ProfileError) throw new ApiError('qr_login_profile_invalid', `The encrypted profile is refused: ${error.message}.`);
        throw error;
      }
    }
    const token = randomToken('qlt_');
    const approval = { tokenHash: sha256(token), consented: fields, encryptedProfile: proof.profile ?? null, tokenSeconds: this.#options.tokenSeconds };
    const app = await this.#activeApp(login.app_id); // suspended since the claim: nobody is signed in
    const approvedAt = new Date().toISOString();
    const approve = async () => {
      const linked = await this.#store.approve(login, approval);
      if (linked && app.callback_url !== null) {
        const event = { login_id: loginId, identity_id: login.identity_id, user_id: linked.userId, approved_at: approvedAt };
        await this.deps.outbox.enqueue(login.app_id, 'qr_login.approved', event);
      }
      return linked;
    };
    // The cached app says whether it takes events: without a callback URL, the approval is one autocommit statement.
    const linked = app.callback_url === null ? await approve() : await this.deps.db.transaction(approve);
    if (!linked) throw answerRefusal(await this.#store.find(loginId));
    const message: QrLoginServerMessage = { type: 'approved', login_token: token };
    if (proof.profile !== undefined) message.encrypted_profile = proof.profile;
    this.hub.publish({ ...message, login_id: loginId });
    if (linked.deviceId) {
      const notification = { kind: 'login', app_id: app.app_id, app_name: displayNameOf(app), at: approvedAt, ip: login.browser_ip, user_agent: login.browser_user_agent };
      this.deps.bus.publish(`device:${linked.deviceId}`, { type: 'notification', notification }).catch(this.deps.onError);
    }
    return { status: 'approved' };
  }

  /** Uses a login token up (once, by its app, in time): the pairwise id, the linked user, the consented profile. */
  async verify(appId: string, token: string): Promise<QrLoginVerification> {
    const redeemed = await this.#store.redeemToken(sha256(token), appId);
    if (typeof redeemed === 'string') throw new ApiError(`login_token_${redeemed}`);
    const app = await this.deps.apps.get(appId);
    const consented = (redeemed.consented_fields ?? []).filter((field) => app.profile_scopes.includes(field));
    const profile =
      redeemed.encrypted_profile && redeemed.private_key_enc
        ? decryptProfile(this.deps.keyring, redeemed.id, redeemed.private_key_enc, redeemed.encrypted_profile, redeemed.consented_fields ?? [])
        : {};
    // Scopes the app narrowed since the approval are left out.
    for (const field of profileFields) if (!consented.includes(field)) delete profile[field];
    const userId = await this.#store.linkedUser(appId, redeemed.identity_id, redeemed.identity_thumbprint);
    return { identity_id: redeemed.identity_id, user_id: userId, profile };
  }

  /**
   * Onboarding: links an identity the app verified to one of its users (created on first use). Only an identity of a
   * QR login this app verified (in the last day, as long as logins are kept): another app's pairwise id means nothing
   * here, and is 404 as anything of another app's.
   */
  async link(appId: string, identityId: string, userId: string): Promise<{ identity_id: string; user_id: string }> {
    if (!isId('idn', identityId)) throw ApiError.invalid('identity_id', 'must be an identity_id from a verified QR login');
    const linked = await this.deps.db.transaction(async () => {
      await this.deps.users.upsert(appId, userId, {});
      const linkedTo = await this.#store.link(appId, identityId, userId);
      if (linkedTo === null) throw new ApiError('not_found', 'No QR login of this app verified this identity (in the last day).');
      return linkedTo;
    });
    if (linked !== userId) throw new ApiError('identity_already_linked', undefined, { details: { user_id: linked } });
    return { identity_id: identityId, user_id: userId };
  }

  expireDue(): Promise<number> {
    return this.#store.expireDue();
  }

  #issueQr(appId: string): IssuedQr {
    const loginId = newId('qrl');
    const { uri } = signQrPayload(this.deps.keys.qrSigning, { server: this.deps.publicUrl, appId, loginId });
    const expiresAtMs = qrExpiresAtMs(loginId, this.#options.qrTtlSeconds * 1000);
    const message = (qrDataUrl: string) => {
      const qr: QrLoginServerMessage = { type: 'qr', login_id: loginId, qr_payload: uri, qr_data_url: qrDataUrl, expires_at: new Date(expiresAtMs).toISOString() };
      return JSON.stringify(qr);
    };
    return { loginId, expiresAtMs, payload: uri, message };
  }

  async #verifyProof(jws: unknown, loginId: string, nonce: string | null, actions: string[]): Promise<VerifiedLoginProof> {
    let verified: VerifiedLoginProof;
    try {
      verified = verifyLoginProof(jws, { nowMs: Date.now(), maxSkewMs: this.#options.proofSkewMs });
    } catch (error) {
      if (error instanceof LoginProofError) throw new ApiError(error.code, error.message);
      throw error;
    }
    const { proof, thumbprint } = verified;
    if (proof.login_id !== loginId || (nonce !== null && proof.nonce !== nonce)) {
      throw new ApiError('qr_login_proof_malformed', 'The proof is signed for another QR code.');
    }
    if (!actions.includes(proof.action)) throw new ApiError('qr_login_proof_malformed', `The proof's action must be ${actions.join(' or ')} here.`);
    // Remembered for as long as the proof could pass the clock check.
    const ttlMs = Date.parse(proof.signed_at) + this.#options.proofSkewMs - Date.now() + 1_000;
    if (!(await this.deps.nonces.claim(`qr-login:${thumbprint}:${proof.jti}`, ttlMs))) throw new ApiError('qr_login_proof_replayed');
    return verified;
  }

  async #activeApp(appId: string): Promise<App> {
    const app = await this.deps.apps.get(appId);
    if (!app.active) throw new ApiError('app_inactive');
    return app;
  }
}

/** Why a login, read after an answer was refused or before it, cannot be answered. */
function answerRefusal(login: { status: QrLoginStatus; expired: boolean } | null): ApiError {
  if (!login) return new ApiError('qr_login_not_found');
  if (login.status === 'expired' || (login.status === 'claimed' && login.expired)) return new ApiError('qr_login_expired');
  return new ApiError('qr_login_not_pending', undefined, { details: { status: login.status } });
}

function displayNameOf(app: App): string {
  return app.branding.display_name ?? app.issuer_name ?? app.name;
}
