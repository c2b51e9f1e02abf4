import { Type, type Static } from 'typebox';
import { profileScopes } from '@tessera/contracts';
import { dateTime, idString, literals, nullable, pathId, pattern } from '../../platform/http/schema-kit.ts';

// Names are shown to people (in authenticators, on consent screens, in a terminal): one line, no control characters,
// which could fake or hide what is shown around them.
const oneLine = pattern('^[^\\x00-\\x1f\\x7f-\\x9f]+$', 'must be one line of text without control characters');
const name = Type.String({ minLength: 1, maxLength: 100, pattern: oneLine, description: 'Shown to the operator.' });
// The issuer is the first part of an otpauth label, where ':' separates it from the account.
const issuerName = Type.String({
  minLength: 1,
  maxLength: 100,
  pattern: pattern(
    '^[^:\\x00-\\x1f\\x7f-\\x9f]+$',
    'must be one line of text without control characters or ":" (it separates the issuer from the account in an otpauth label)',
  ),
});
const url = Type.String({ minLength: 1, maxLength: 2048, description: 'An http or https URL.' });
const message = Type.String({ minLength: 1, maxLength: 500 });
const displayName = Type.String({ minLength: 1, maxLength: 100, pattern: oneLine });
const logo = Type.String({ maxLength: 400_000, description: 'A data:image/png;base64,… URL, at most 180×100 pixels.' });
const scopes = Type.Array(literals(profileScopes), {
  uniqueItems: true,
  description: 'Profile fields this app may ask for at QR login.',
});
const origins = Type.Array(Type.String({ maxLength: 2048 }), {
  maxItems: 100,
  uniqueItems: true,
  description: 'Web origins allowed to use the QR socket and the client API; empty means any.',
});
const ips = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 100,
  uniqueItems: true,
  description: 'Addresses or CIDR ranges allowed to call with the app credentials; empty means any.',
});

export const brandingSchema = Type.Object(
  { display_name: nullable(displayName), logo: nullable(logo) },
  { additionalProperties: false },
);

/** The whole configuration of an app: what a patch must leave behind. */
export const appConfigSchema = Type.Object(
  {
    name,
    active: Type.Boolean(),
    issuer_name: nullable(issuerName),
    callback_url: nullable(url),
    challenge_default_message: nullable(message),
    branding: brandingSchema,
    profile_scopes: scopes,
    allowed_origins: origins,
    allowed_ips: ips,
  },
  { additionalProperties: false },
);
export type AppConfigInput = Static<typeof appConfigSchema>;

export const createAppBody = Type.Object(
  {
    name,
    active: Type.Optional(Type.Boolean()),
    issuer_name: Type.Optional(nullable(issuerName)),
    callback_url: Type.Optional(nullable(url)),
    challenge_default_message: Type.Optional(nullable(message)),
    branding: Type.Optional(
      Type.Object(
        { display_name: Type.Optional(nullable(displayName)), logo: Type.Optional(nullable(logo)) },
        { additionalProperties: false },
      ),
    ),
    profile_scopes: Type.Optional(scopes),
    allowed_origins: Type.Optional(origins),
    allowed_ips: Type.Optional(ips),
  },
  { additionalProperties: false },
);
export type CreateAppBody = Static<typeof createAppBody>;

const timestamps = { created_at: dateTime, updated_at: dateTime };

export const appSchema = Type.Object({ app_id: Type.String(), ...appConfigSchema.properties, ...timestamps });

export const createdAppSchema = Type.Object({
  ...appSchema.properties,
  app_secret: Type.String({ description: 'Shown only now; stored as a hash.' }),
  webhook_secret: Type.String({ description: 'whsec_… Shown only now; signs the webhooks.' }),
});

export const appPageSchema = Type.Object({ data: Type.Array(appSchema), has_more: Type.Boolean() });

export const listAppsQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    starting_after: Type.Optional(idString('The last app_id of the previous page.')),
  },
  { additionalProperties: false },
);

export const appIdParams = Type.Object({ app_id: pathId });

export const mergePatchBody = Type.Object({}, { additionalProperties: true, description: 'RFC 7396 JSON Merge Patch' });

export const jsonPatchBody = Type.Array(
  Type.Object(
    {
      op: literals(['add', 'remove', 'replace', 'move', 'copy', 'test']),
      path: Type.String(),
      from: Type.Optional(Type.String()),
      value: Type.Optional(Type.Unknown()),
    },
    { additionalProperties: false },
  ),
  { maxItems: 100, description: 'RFC 6902 JSON Patch' },
);

export const rotatedSecretSchema = Type.Object({ app_secret: Type.String() });
