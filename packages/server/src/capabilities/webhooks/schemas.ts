import { Type } from 'typebox';
import { webhookDeliveryStatuses } from '@tessera/contracts';
import { dateTime, idString, literals, nullable, nullableDateTime, pathId } from '../../platform/http/schema-kit.ts';

export const deliverySchema = Type.Object({
  id: Type.String({ description: 'Also the webhook-id header: the same on every attempt.' }),
  app_id: Type.String(),
  event_type: Type.String(),
  status: literals(webhookDeliveryStatuses),
  attempts: Type.Integer(),
  payload: Type.Object(
    { type: Type.String(), timestamp: dateTime, data: Type.Unknown() },
    { description: 'The body that is POSTed.' },
  ),
  created_at: dateTime,
  last_attempt_at: nullableDateTime,
  next_attempt_at: nullableDateTime,
  delivered_at: nullableDateTime,
  last_status_code: nullable(Type.Integer()),
  last_error: nullable(Type.String()),
});

export const deliveryPageSchema = Type.Object({ data: Type.Array(deliverySchema), has_more: Type.Boolean() });

export const listDeliveriesQuery = Type.Object(
  {
    status: Type.Optional(literals(webhookDeliveryStatuses)),
    event_type: Type.Optional(Type.String({ maxLength: 100 })),
    app_id: Type.Optional(idString('Operator only: one app.')),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 50 })),
    starting_after: Type.Optional(idString('The last id of the previous page.')),
  },
  { additionalProperties: false },
);

export const deliveryIdParams = Type.Object({ id: pathId });
