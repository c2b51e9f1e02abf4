export { Tessera } from './tessera.ts';
export type { TesseraOptions } from './tessera.ts';
export { TesseraAdmin } from './tessera-admin.ts';
export type { TesseraAdminOptions } from './tessera-admin.ts';
export type { AdminApps } from './admin-apps.ts';
export type { AppMergePatch, CreateAppInput, CreatingCallOptions, ListAppsQuery } from './admin-apps.ts';
export type { AdminWebhookDeliveryQuery, WebhookDeliveriesApi, WebhookDeliveryQuery } from './webhook-deliveries.ts';
export { TesseraError, TesseraWebhookError } from './errors.ts';
export type { ClientErrorCode, TesseraErrorCode, TesseraErrorInit, WebhookErrorCode } from './errors.ts';
export { verifyWebhook } from './verify-webhook.ts';
export type { VerifyWebhookOptions } from './verify-webhook.ts';
export type { HeadersLike, WebhookHeaders } from './webhook-headers.ts';
export type {
  App,
  AppBranding,
  AppConfig,
  CreatedApp,
  ErrorCode,
  JsonPatchOperation,
  Page,
  ProfileScope,
  RotatedSecret,
  ValidationErrorDetails,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '@tessera/contracts';
