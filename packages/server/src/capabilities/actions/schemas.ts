import { Type } from 'typebox';
import { actionOutcomes, actionStates, factorTypes } from '@tessera/contracts';
import { dateTime, idString, literals, nullable, nullableDateTime, pathId, pattern } from '../../platform/http/schema-kit.ts';
import { userIdParams } from '../users/schemas.ts';

const actionName = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: pattern('^[A-Za-z0-9_.:-]+$', 'may contain only letters, digits and _ . : -'),
  description: 'The app’s name for what the user does, such as signIn or createPayment.',
});

export const actionParams = Type.Object({ ...userIdParams.properties, action: actionName });
export const actionRecordParams = Type.Object({ ...actionParams.properties, idempotency_key: pathId });
export const appActionParams = Type.Object({ app_id: pathId, action: actionName });

export const trackBody = Type.Object(
  {
    context: Type.Optional(
      // A Record's key schema becomes patternProperties, which checks no length: propertyNames does.
      Type.Record(Type.String(), Type.Unknown(), {
        maxProperties: 50,
        propertyNames: { maxLength: 64 },
        description: 'What the app knows: ip, user_agent, device_id, and values of its own (at most 8 KB of JSON).',
      }),
    ),
    redirect_url: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 2048,
        pattern: pattern('^[^\\x00-\\x20]+$', 'must not contain spaces or control characters'),
        description: 'Where the hosted page sends the browser back, with ?token=.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const trackedSchema = Type.Object({
  state: literals(actionOutcomes),
  idempotency_key: Type.String({ description: 'The id of the action record.' }),
  token: Type.String({ description: 'For the browser (client API, hosted page); valid for 10 minutes.' }),
  url: Type.String({ description: 'The hosted page that runs the challenge or the enrollment.' }),
  enrolled_factors: Type.Array(literals(factorTypes)),
});

export const actionRecordSchema = Type.Object({
  idempotency_key: Type.String(),
  user_id: Type.String(),
  action: Type.String(),
  state: literals(actionStates),
  outcome: literals(actionOutcomes),
  rule: nullable(Type.String()),
  context: Type.Object({}, { additionalProperties: true }),
  redirect_url: nullable(Type.String()),
  created_at: dateTime,
  updated_at: dateTime,
  validated_at: nullableDateTime,
});

export const actionPageSchema = Type.Object({ data: Type.Array(actionRecordSchema), has_more: Type.Boolean() });

export const listActionsQuery = Type.Object(
  {
    action: Type.Optional(actionName),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    starting_after: Type.Optional(idString('The last idempotency_key of the previous page (newest first).')),
  },
  { additionalProperties: false },
);

export const reviewBody = Type.Object({ state: literals(['ALLOW', 'BLOCK'] as const) }, { additionalProperties: false });

export const validateBody = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 4096 }),
    action: actionName,
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false },
);

export const validatedSchema = Type.Object({
  state: literals(actionStates),
  is_valid: Type.Boolean(),
  user_id: Type.String(),
  action: Type.String(),
  idempotency_key: Type.String(),
});

const conditionsDoc =
  '{"all":[…]} or {"any":[…]} (nestable, at most 8 levels, 100 conditions per rule) over field conditions ' +
  '{"field":"context.amount","op":"gt","value":10000} (op: eq ne gt gte lt lte in not_in contains cidr) and signals ' +
  '{"signal":"new_device"}, {"signal":"failed_challenges","within_seconds":3600,"gte":3}, ' +
  '{"signal":"velocity","within_seconds":600,"gte":5}, {"signal":"has_factor","type":"totp"}, ' +
  '{"signal":"fraud_reported","within_seconds":86400}.';

export const putRulesBody = Type.Object(
  {
    default_outcome: literals(actionOutcomes),
    // Each rule is checked by rules-validation.ts, which names the bad path (rules[2].conditions.all[0].op).
    rules: Type.Array(Type.Unknown({ description: `{name, conditions, outcome}; conditions: ${conditionsDoc}` }), { maxItems: 100 }),
  },
  { additionalProperties: false },
);

export const rulesSchema = Type.Object({
  action: Type.String(),
  default_outcome: literals(actionOutcomes),
  rules: Type.Array(
    Type.Object({ name: Type.String(), conditions: Type.Object({}, { additionalProperties: true }), outcome: literals(actionOutcomes) }),
  ),
  updated_at: nullableDateTime,
});

export const rulesListSchema = Type.Object({ data: Type.Array(rulesSchema) });

export const clientEnrollmentSchema = Type.Object({
  factor_id: Type.String(),
  uri: Type.String(),
  secret: Type.String({ description: 'Base32, shown only now.' }),
  qr_data_url: Type.String(),
});

export const clientPushSchema = Type.Object({
  challenge_id: Type.String(),
  status: Type.String({ description: 'pending, approved, denied, expired or failed.' }),
  deny_reason: Type.Optional(
    Type.Literal('fraud', { description: 'The person said they did not start it: no new request can be sent for this action.' }),
  ),
  number: Type.Optional(Type.Integer({ description: 'Show it: the person picks it on their device.' })),
  expires_at: Type.String({ format: 'date-time' }),
  state: Type.Optional(Type.Literal('CHALLENGE_SUCCEEDED')),
  token: Type.Optional(Type.String({ description: 'Once approved: for POST /v1/actions/validate (3 minutes, once).' })),
});

export const clientSuccessSchema = Type.Object({
  state: Type.Literal('CHALLENGE_SUCCEEDED'),
  token: Type.String({ description: 'For POST /v1/actions/validate; valid for 3 minutes, once.' }),
});
