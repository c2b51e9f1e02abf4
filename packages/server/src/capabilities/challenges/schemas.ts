import { Type } from 'typebox';
import { challengeStatuses, factorTypes } from '@tessera/contracts';
import { dateTime, literals, nullable, nullableDateTime } from '../../platform/http/schema-kit.ts';
import { maxExpiresInSeconds, maxWaitSeconds } from './limits.ts';

const nullableObject = nullable(Type.Object({}, { additionalProperties: true }));
const freeObject = (description: string) => Type.Record(Type.String(), Type.Unknown(), { maxProperties: 50, description });

export const createChallengeBody = Type.Object(
  {
    factor_id: Type.Optional(Type.String({ maxLength: 64 })),
    type: Type.Optional(literals(factorTypes)),
    reference_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Your own reference.' })),
    message: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    details: Type.Optional(freeObject('Shown to the person (on the device for push).')),
    hidden_details: Type.Optional(freeObject('Kept for the app only.')),
    expires_in: Type.Optional(Type.Integer({ minimum: 1, maximum: maxExpiresInSeconds, description: 'Seconds (default 300).' })),
    number_matching: Type.Optional(Type.Boolean({ description: 'Push only: the person picks the number the app shows.' })),
  },
  { additionalProperties: false },
);

export const challengeSchema = Type.Object({
  challenge_id: Type.String(),
  user_id: Type.String(),
  status: literals(challengeStatuses),
  factor_id: nullable(Type.String()),
  factor_type: literals(factorTypes),
  reference_id: nullable(Type.String()),
  message: nullable(Type.String()),
  details: nullableObject,
  hidden_details: nullableObject,
  attempts_left: Type.Integer({ description: 'Wrong codes this challenge still accepts.' }),
  expires_at: dateTime,
  created_at: dateTime,
  resolved_at: nullableDateTime,
});

export const challengeIdParams = Type.Object({ challenge_id: Type.String({ maxLength: 64 }) });

export const getChallengeQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: maxWaitSeconds, description: 'Long-poll: hold the answer up to this many seconds until the status changes.' }),
    ),
  },
  { additionalProperties: false },
);
