import type { DeviceApp, DevicePublicJwk } from './devices.ts';

/** Profile fields an authenticator identity holds and may share at QR login (all strings). */
export const profileFields = ['first_name', 'last_name', 'email', 'picture'] as const;
export type ProfileField = (typeof profileFields)[number];
export type Profile = Partial<Record<ProfileField, string>>;

/** The URI a login QR code holds: `tessera://login?server=…&app_id=…&login_id=…&nonce=…&sig=…`. */
export const qrLoginUriPrefix = 'tessera://login?';

/** Messages the server sends on the browser socket `GET /v1/qr-logins/connect?app_id=…`. */
export type QrLoginServerMessage =
  | { type: 'qr'; login_id: string; qr_payload: string; qr_data_url: string; expires_at: string }
  | { type: 'scanned' }
  | { type: 'approved'; login_token: string; encrypted_profile?: string }
  | { type: 'denied' }
  | { type: 'expired' };

/** Close code of a browser socket that sent something: the browser only listens. */
export const qrSocketUnexpectedMessageCode = 4400;

/** Where the sign-in was started, as the consent screen shows it. */
export interface QrLoginBrowser {
  ip: string;
  user_agent: string;
  /** When the browser opened the socket (ISO-8601 UTC). */
  started_at: string;
}

/** The body of `POST /v1/qr-logins/claim`, sent by the authenticator that scanned the code. */
export interface QrLoginClaimRequest {
  qr_payload: string;
  /** A `tessera-qr-login+jws` with `action: "claim"`, signed by the authenticator's identity key. */
  proof: string;
}

/** The answer to a claim: what the consent screen shows, and the key that encrypts the profile. */
export interface QrLoginClaim {
  login_id: string;
  app: DeviceApp;
  /** Profile fields the app asks for (its `profile_scopes` that an identity holds). */
  requested_fields: ProfileField[];
  browser: QrLoginBrowser;
  /** The public key made for this login only: encrypt the profile to it (JWE, ECDH-ES, A256GCM). */
  encryption_key: DevicePublicJwk & { kid: string };
  /** The answer must arrive before this time. */
  expires_at: string;
}

/** The body of `POST /v1/qr-logins/{login_id}/answer`. */
export interface QrLoginAnswerRequest {
  /** A `tessera-qr-login+jws` with `action: "approve"` or `"deny"`. */
  proof: string;
}

/** The answer of `POST /v1/qr-logins/verify` (app credentials). */
export interface QrLoginVerification {
  /** The person's id for this app only (another app sees another id for the same person). */
  identity_id: string;
  /** The app's user this identity is linked to (a registered device, or a link), else null. */
  user_id: string | null;
  /** Only the fields the app's profile_scopes allow and the person consented to. */
  profile: Profile;
}

/** The `typ` of the JWS an authenticator signs to claim or answer a QR login. */
export const qrLoginProofType = 'tessera-qr-login+jws';
export type QrLoginAction = 'claim' | 'approve' | 'deny';

/**
 * The payload of a `tessera-qr-login+jws` (see packages/server/src/capabilities/qr-logins/login-proof.ts
 * for the whole format). `fields` and `profile` come with an approval only.
 */
export interface QrLoginProof {
  login_id: string;
  nonce: string;
  action: QrLoginAction;
  fields?: ProfileField[];
  /** The consented profile as a compact JWE to the login's `encryption_key`. */
  profile?: string;
  signed_at: string;
  jti: string;
}
