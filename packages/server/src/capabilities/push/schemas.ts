import { Type } from 'typebox';
import { challengeStatuses, deviceDecisions } from '@tessera/contracts';
import { dateTime, literals, nullable, pathId } from '../../platform/http/schema-kit.ts';

export const deviceChallengeSchema = Type.Object({
  challenge_id: Type.String(),
  status: literals(challengeStatuses),
  app: Type.Object({ app_id: Type.String(), display_name: Type.String(), logo: nullable(Type.String()) }),
  message: nullable(Type.String()),
  details: nullable(Type.Object({}, { additionalProperties: true })),
  number_choices: nullable(Type.Array(Type.Integer(), { description: 'Number matching: the person picks the number the app shows.' })),
  expires_at: dateTime,
  created_at: dateTime,
  answer: Type.Union([literals(deviceDecisions), Type.Null()], { description: 'This approver’s own answer, once given.' }),
});

export const deviceChallengeListSchema = Type.Object({ data: Type.Array(deviceChallengeSchema) });

export const answerBody = Type.Object(
  {
    signed_decision: Type.String({
      minLength: 1,
      maxLength: 4096,
      description:
        'A compact JWS signed by the device key: header {typ:"tessera-decision+jws", alg}, payload {challenge_id, ' +
        'decision:"approve"|"deny", number? (number matching, approve only), reason?:"fraud" (deny only), signed_at (ISO-8601 UTC, within 60 s)}.',
    }),
  },
  { additionalProperties: false },
);

export const deviceChallengeParams = Type.Object({ challenge_id: pathId });
