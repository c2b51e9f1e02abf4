import { Type } from 'typebox';
import { webhookDeliveryStatuses } from '@tessera/contracts';

const nullableTime = Type.Unsafe<string | null>({ type: ['string', 'null'], format: 'date-time' });

export const deliverySchema = Type.Object({
  id: Type.String({ description: 'Also the webhook-id header: the same on every attempt.' }),
  app_id: Type.String(),
  event_type: Type.String(),
  status: Type.Union(webhookDeliveryStatuses.map((status) => Type.Literal(status))),
  attempts: Type.Integer(),
  payload: Type.Object(
    { type: Type.String(), timestamp: Type.String({ format: 'date-time' }), data: Type.Unknown() },
    { description: 'The body that is POSTed.' },
  ),
  created_at: Type.String({ format: 'date-time' }),
  last_attempt_at: nullableTime,
  next_attempt_at: nullableTime,
  delivered_at: nullableTime,
  last_status_code: Type.Unsafe<number | null>({ type: ['integer', 'null'] }),
  last_error: Type.Unsafe<string | null>({ type: ['string', 'null'] }),
});

export const deliveryPageSchema = Type.Object({ data: Type.Array(deliverySchema), has_more: Type.Boolean() });

export const listDeliveriesQuery = Type.Object(
  {
    status: Type.Optional(Type.Union(webhookDeliveryStatuses.map((status) => Type.Literal(status)))),
    event_type: Type.Optional(Type.String({ maxLength: 100 })),
    app_id: Type.Optional(Type.String({ maxLength: 64, description: 'Operator only: one app.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    starting_after: Type.Optional(Type.String({ maxLength: 64, description: 'The last id of the previous page.' })),
  },
  { additionalProperties: false },
);

export const deliveryIdParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
