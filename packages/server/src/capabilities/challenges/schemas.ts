import { Type } from 'typebox';
import { challengeStatuses, denyReasons, factorTypes } from '@tessera/contracts';
import { dateTime, literals, nullable, nullableDateTime, pathId } from '../../platform/http/schema-kit.ts';
import { maxExpiresInSeconds, maxWaitSeconds } from './limits.ts';

const nullableObject = nullable(Type.Object({}, { additionalProperties: true }));
const freeObject = (description: string) => Type.Record(Type.String(), Type.Unknown(), { maxProperties: 50, description });

const messageField = Type.String({ minLength: 1, maxLength: 500 });
const detailsField = freeObject('Shown to the person (on the device for push).');
const hiddenDetailsField = freeObject('Kept for the app only.');
const referenceIdField = Type.String({ minLength: 1, maxLength: 255, description: 'Your own reference.' });
const expiresInField = Type.Integer({ minimum: 1, maximum: maxExpiresInSeconds, description: 'Seconds (default 300).' });

export const createChallengeBody = Type.Object(
  {
    factor_id: Type.Optional(Type.String({ maxLength: 64 })),
    type: Type.Optional(literals(factorTypes)),
    reference_id: Type.Optional(referenceIdField),
    message: Type.Optional(messageField),
    details: Type.Optional(detailsField),
    hidden_details: Type.Optional(hiddenDetailsField),
    expires_in: Type.Optional(expiresInField),
    number_matching: Type.Optional(Type.Boolean({ description: 'Push only: the person picks the number the app shows.' })),
  },
  { additionalProperties: false },
);

export const createQuorumChallengeBody = Type.Object(
  {
    user_ids: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { minItems: 1, maxItems: 20 }),
    quorum: Type.Integer({ minimum: 1, maximum: 20, description: 'Approvals needed; at most the number of user_ids.' }),
    message: messageField,
    details: Type.Optional(detailsField),
    hidden_details: Type.Optional(hiddenDetailsField),
    reference_id: Type.Optional(referenceIdField),
    expires_in: Type.Optional(expiresInField),
  },
  { additionalProperties: false },
);

const userList = Type.Array(Type.String());

export const challengeSchema = Type.Object({
  challenge_id: Type.String(),
  user_id: nullable(Type.String({ description: 'Null for a challenge of several approvers (user_ids).' })),
  status: literals(challengeStatuses),
  factor_id: nullable(Type.String()),
  factor_type: literals(factorTypes),
  reference_id: nullable(Type.String()),
  message: nullable(Type.String()),
  details: nullableObject,
  hidden_details: nullableObject,
  attempts_left: Type.Optional(Type.Integer({ description: 'TOTP and recovery challenges: wrong codes this challenge still accepts.' })),
  expires_at: dateTime,
  created_at: dateTime,
  resolved_at: nullableDateTime,
  number: Type.Optional(Type.Integer({ minimum: 10, maximum: 99, description: 'Number matching: show it; the person picks it on the device.' })),
  deny_reason: Type.Optional(
    Type.Union([literals(denyReasons), Type.Null()], { description: 'Push: "fraud" (the person did not start this) or "wrong_number".' }),
  ),
  user_ids: Type.Optional(userList),
  quorum: Type.Optional(Type.Integer()),
  approved_by: Type.Optional(userList),
  denied_by: Type.Optional(userList),
});

export const challengeIdParams = Type.Object({ challenge_id: pathId });

export const getChallengeQuery = Type.Object(
  {
    wait: Type.Optional(
      Type.Integer({ minimum: 0, maximum: maxWaitSeconds, description: 'Long-poll: hold the answer up to this many seconds until the status changes.' }),
    ),
  },
  { additionalProperties: false },
);
