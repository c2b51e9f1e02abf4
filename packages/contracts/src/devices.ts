/** Signature algorithms of device keys: ES256 for P-256 keys, EdDSA for Ed25519 keys. */
export const deviceAlgorithms = ['ES256', 'EdDSA'] as const;
export type DeviceAlgorithm = (typeof deviceAlgorithms)[number];

/** A device's public key as a JWK (RFC 7517): EC P-256 or OKP Ed25519, never with private members. */
export type DevicePublicJwk = { kty: 'EC'; crv: 'P-256'; x: string; y: string } | { kty: 'OKP'; crv: 'Ed25519'; x: string };

/** The answer to `POST /v1/users/{user_id}/device-registrations`: shown to the person as a QR code. */
export interface DeviceRegistration {
  /** Single use, valid for 10 minutes: it is the only credential of `POST /v1/devices`. */
  registration_token: string;
  /** `tessera://register?server=<url-encoded base URL>&token=<registration_token>` */
  registration_uri: string;
  /** A `data:image/png;base64,…` QR code of `registration_uri`. */
  qr_data_url: string;
  expires_at: string;
}

/** The body of `POST /v1/devices`, sent by the authenticator. */
export interface RegisterDevice {
  registration_token: string;
  public_key: DevicePublicJwk;
  name?: string;
  /** The authenticator's identity key, the same for all its registrations: links its QR logins to this user. */
  identity_key?: DevicePublicJwk;
  /** Required with `identity_key`: that the authenticator holds it (see DeviceIdentityProof). */
  identity_proof?: string;
}

/** `typ` of RegisterDevice.identity_proof. */
export const deviceIdentityProofType = 'tessera-device-identity+jws';

/**
 * The payload of RegisterDevice.identity_proof, a JWS in compact form signed by the identity key (header
 * {"typ":"tessera-device-identity+jws","alg":"ES256"|"EdDSA"}): this identity registers this device key with this
 * registration. Without it anyone could register someone else's (public) identity key and have that person's QR
 * logins name their own user.
 */
export interface DeviceIdentityProof {
  /** base64url (no padding) of the SHA-256 of the registration token. */
  registration: string;
  /** The RFC 7638 SHA-256 thumbprint of `public_key`, the device key being registered. */
  public_key: string;
  /** ISO-8601 UTC with Z; within 10 minutes of the server's clock. */
  signed_at: string;
}

/** The app a device answers for, as the authenticator shows it. */
export interface DeviceApp {
  app_id: string;
  display_name: string;
  logo: string | null;
}

/** A registered device: the key behind one push factor of one user of one app. */
export interface Device {
  device_id: string;
  factor_id: string;
  user_id: string;
  app: DeviceApp;
  name: string | null;
  alg: DeviceAlgorithm;
  created_at: string;
  last_seen_at: string | null;
}

/**
 * `Authorization: Device <JWT>` on the device routes: a JWT signed by the device key (RFC 7515
 * compact form), one per request, in the spirit of DPoP (RFC 9449 §4.2).
 */
export const deviceRequestTokenType = 'tessera-device+jwt';
/** The longest a device request token may live (exp − iat), in seconds. */
export const maxDeviceRequestTokenSeconds = 120;

/** The header and claims of a device request token. */
export interface DeviceRequestToken {
  header: { typ: typeof deviceRequestTokenType; alg: DeviceAlgorithm; kid: string };
  claims: { iat: number; exp: number; jti: string; htm: string; htu: string };
}

/** The `typ` of a signed approve/deny answer to a push challenge. */
export const deviceDecisionType = 'tessera-decision+jws';
export const deviceDecisions = ['approve', 'deny'] as const;
export type DeviceDecisionKind = (typeof deviceDecisions)[number];

/** The JSON a device signs to answer a push challenge (the payload of a `tessera-decision+jws`). */
export interface DeviceDecision {
  challenge_id: string;
  decision: DeviceDecisionKind;
  /** Number matching: the number the person picked (approve only). */
  number?: number;
  /** The person did not start this (deny only). */
  reason?: 'fraud';
  /** ISO-8601 UTC time of signing, e.g. 2025-01-31T12:00:00.000Z. */
  signed_at: string;
}

/** A push challenge as its device sees it: what the person needs to decide, never the number to match. */
export interface DeviceChallenge {
  challenge_id: string;
  status: 'pending' | 'verified' | 'approved' | 'denied' | 'expired' | 'failed';
  app: DeviceApp;
  message: string | null;
  details: Record<string, unknown> | null;
  /** Number matching: pick the number the app shows among these three. */
  number_choices: number[] | null;
  expires_at: string;
  created_at: string;
  /** This approver's own answer, once given. */
  answer: DeviceDecisionKind | null;
}

/** The body of `POST /v1/device/challenges/{challenge_id}/answer`. */
export interface AnswerChallenge {
  /** A `tessera-decision+jws` signed by the device key (see DeviceDecision). */
  signed_decision: string;
}

/** A notification to a device, e.g. that its approval signed someone in. */
export interface DeviceNotification {
  kind: 'login';
  app_id: string;
  app_name: string;
  at: string;
  challenge_id?: string;
  ip?: string;
  user_agent?: string;
}

/** What the device stream (`GET /v1/device/stream`, a WebSocket) sends, one JSON object per message. */
export type DeviceStreamMessage =
  | { type: 'ready'; device_id: string }
  | { type: 'challenge'; challenge: DeviceChallenge }
  | { type: 'challenge_ended'; challenge_id: string; status: DeviceChallenge['status'] }
  | { type: 'notification'; notification: DeviceNotification };
