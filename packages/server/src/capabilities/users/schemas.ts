import { Type } from 'typebox';
import { dateTime, nullable, pattern } from '../../platform/http/schema-kit.ts';
import { factorSchema } from '../factors/schemas.ts';

export const userIdParams = Type.Object({
  // Any printable text but "." and "..", which URL parsers resolve as path steps and no client could address.
  user_id: Type.String({
    minLength: 1,
    maxLength: 255,
    pattern: pattern('^(?!\\.{1,2}$)[^\\x00-\\x1f\\x7f]+$', 'must be printable text other than "." and ".."'),
    description: "The app's own id for the user.",
  }),
});

export const putUserBody = Type.Object(
  {
    email: Type.Optional(nullable(Type.String({ format: 'email', maxLength: 254 }))),
    phone: Type.Optional(
      nullable(Type.String({ pattern: pattern('^\\+?[0-9][0-9 ().-]{2,31}$', 'must be a phone number: 3 to 32 digits, spaces and ( ) . -, after an optional +') })),
    ),
    display_name: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 100 }))),
  },
  { additionalProperties: false },
);

export const userSchema = Type.Object({
  user_id: Type.String(),
  email: nullable(Type.String()),
  phone: nullable(Type.String()),
  display_name: nullable(Type.String()),
  two_factor_enabled: Type.Boolean({ description: 'The user has an active TOTP or push factor.' }),
  factors: Type.Array(factorSchema),
  created_at: dateTime,
  updated_at: dateTime,
});
