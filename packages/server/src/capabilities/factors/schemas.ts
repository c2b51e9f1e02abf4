import { Type } from 'typebox';
import { factorTypes, totpAlgorithms } from '@tessera/contracts';
import { dateTime, literals, nullable, nullableDateTime, pathId } from '../../platform/http/schema-kit.ts';

export const factorSchema = Type.Object({
  factor_id: Type.String(),
  user_id: Type.String(),
  type: literals(factorTypes),
  status: literals(['unverified', 'active']),
  name: nullable(Type.String()),
  created_at: dateTime,
  activated_at: nullableDateTime,
  algorithm: Type.Optional(literals(totpAlgorithms)),
  digits: Type.Optional(literals([6, 8])),
  period: Type.Optional(literals([30, 60])),
  codes_left: Type.Optional(Type.Integer({ description: 'Recovery codes not used yet.' })),
});

export const enrolledTotpSchema = Type.Object({
  ...factorSchema.properties,
  secret: Type.String({ description: 'Base32, no padding. Shown only now.' }),
  uri: Type.String({ description: 'otpauth://totp/ISSUER:LABEL?secret=…&issuer=…&algorithm=…&digits=…&period=…' }),
  qr_data_url: Type.String({ description: 'data:image/png;base64,… of a QR code holding uri' }),
});

export const enrollFactorBody = Type.Object(
  {
    type: literals(factorTypes),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    algorithm: Type.Optional(literals(totpAlgorithms)),
    digits: Type.Optional(literals([6, 8])),
    period: Type.Optional(literals([30, 60])),
    secret: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Import an existing Base32 secret (with code).' })),
    code: Type.Optional(Type.String({ maxLength: 64, description: 'A current code of the imported secret.' })),
  },
  { additionalProperties: false },
);

export const codeBody = Type.Object({ code: Type.String({ maxLength: 64 }) }, { additionalProperties: false });

export const factorIdParams = Type.Object({ factor_id: pathId });

export const factorListSchema = Type.Object({ data: Type.Array(factorSchema) });

export const recoveryCodesSchema = Type.Object({
  factor_id: Type.String(),
  codes: Type.Array(Type.String(), { description: 'Ten single-use codes, shown only now.' }),
});
