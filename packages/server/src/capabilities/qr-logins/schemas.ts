import { Type } from 'typebox';
import { profileFields } from '@tessera/contracts';
import { dateTime, literals, nullable, pathId } from '../../platform/http/schema-kit.ts';
import { userIdParams } from '../users/schemas.ts';

export const connectQuery = Type.Object(
  { app_id: Type.String({ minLength: 1, maxLength: 64, description: 'The app whose QR login the page shows.' }) },
  { additionalProperties: false },
);

const proof = Type.String({
  minLength: 1,
  maxLength: 65_536,
  description:
    'A tessera-qr-login+jws signed by the authenticator’s identity key, the public key in the header (jwk): ' +
    'payload {login_id, nonce, action, fields?, profile?, signed_at, jti}.',
});

export const claimBody = Type.Object(
  { qr_payload: Type.String({ minLength: 1, maxLength: 1000, description: 'The tessera://login URI read from the QR code.' }), proof },
  { additionalProperties: false },
);

const publicJwk = Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), y: Type.Optional(Type.String()), kid: Type.String() });

export const claimSchema = Type.Object({
  login_id: Type.String(),
  app: Type.Object({ app_id: Type.String(), display_name: Type.String(), logo: nullable(Type.String()) }),
  requested_fields: Type.Array(literals(profileFields)),
  browser: Type.Object({ ip: Type.String(), user_agent: Type.String(), started_at: dateTime }),
  encryption_key: publicJwk,
  expires_at: dateTime,
});

export const loginIdParams = Type.Object({ login_id: pathId });

export const answerBody = Type.Object({ proof }, { additionalProperties: false });

export const answerSchema = Type.Object({ status: literals(['approved', 'denied'] as const) });

export const verifyBody = Type.Object({ login_token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

const profile = Type.Object(
  Object.fromEntries(profileFields.map((field) => [field, Type.Optional(Type.String())])),
  { description: 'Only the fields the app’s profile_scopes allow and the person consented to.' },
);

export const verificationSchema = Type.Object({
  identity_id: Type.String({ description: 'The person’s id for this app only.' }),
  user_id: nullable(Type.String()),
  profile,
});

export const linkBody = Type.Object(
  { identity_id: Type.String({ minLength: 1, maxLength: 64 }), user_id: userIdParams.properties.user_id },
  { additionalProperties: false },
);

export const linkSchema = Type.Object({ identity_id: Type.String(), user_id: Type.String() });
