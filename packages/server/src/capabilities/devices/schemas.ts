import { Type } from 'typebox';
import { deviceAlgorithms } from '@tessera/contracts';
import { dateTime, literals, nullable, nullableDateTime, pathId } from '../../platform/http/schema-kit.ts';

export const deviceRegistrationSchema = Type.Object({
  registration_token: Type.String({ description: 'Single use, valid for 10 minutes; stored only as a hash.' }),
  registration_uri: Type.String({ description: 'tessera://register?server=<url-encoded base URL>&token=<registration_token>' }),
  qr_data_url: Type.String({ description: 'A data:image/png;base64,… QR code of registration_uri.' }),
  expires_at: dateTime,
});

// The key is checked in code (device-key.ts), which names the member at fault; the schema documents it.
const publicKey = Type.Unsafe<Record<string, unknown>>({
  type: 'object',
  maxProperties: 20,
  description:
    'The device public key as a JWK: {"kty":"EC","crv":"P-256","x","y"} (signs ES256) or {"kty":"OKP","crv":"Ed25519","x"} ' +
    '(signs EdDSA). Private members (d) are refused. Each registration needs its own key.',
  examples: [{ kty: 'EC', crv: 'P-256', x: 'base64url of 32 bytes', y: 'base64url of 32 bytes' }],
});

export const registerDeviceBody = Type.Object(
  {
    registration_token: Type.String({ minLength: 1, maxLength: 200 }),
    public_key: publicKey,
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Shown as the push factor’s name.' })),
    identity_key: Type.Optional(
      Type.Unsafe<Record<string, unknown>>({
        type: 'object',
        maxProperties: 20,
        description:
          'The authenticator’s identity public key (a JWK like public_key, shared by all its registrations): a QR login ' +
          'signed by this identity then names the user this device is registered for. Requires identity_proof.',
      }),
    ),
    identity_proof: Type.Optional(
      Type.String({
        maxLength: 4096,
        description:
          'A JWS in compact form signed by identity_key, header {"typ":"tessera-device-identity+jws","alg"}, payload ' +
          '{"registration": base64url of the SHA-256 of registration_token, "public_key": the RFC 7638 thumbprint of ' +
          'public_key, "signed_at": ISO-8601 UTC, within 10 minutes}: that the caller holds the identity key.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const deviceSchema = Type.Object({
  device_id: Type.String(),
  factor_id: Type.String({ description: 'The push factor this device answers for; deleting it removes the device.' }),
  user_id: Type.String(),
  app: Type.Object({ app_id: Type.String(), display_name: Type.String(), logo: nullable(Type.String()) }),
  name: nullable(Type.String()),
  alg: literals(deviceAlgorithms),
  created_at: dateTime,
  last_seen_at: nullableDateTime,
});

export const deviceListSchema = Type.Object({ data: Type.Array(deviceSchema) });

export const deviceIdParams = Type.Object({ device_id: pathId });
