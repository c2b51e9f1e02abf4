export { Tessera } from './tessera.ts';
export type { TesseraOptions } from './tessera.ts';
export { TesseraAdmin } from './tessera-admin.ts';
export type { TesseraAdminOptions } from './tessera-admin.ts';
export type { AdminApps } from './admin-apps.ts';
export type { AppMergePatch, CreateAppInput, CreatingCallOptions, ListAppsQuery } from './admin-apps.ts';
export type { Users, UserProfileInput } from './users.ts';
export type { EnrollTotpOptions, Factors, ImportTotpOptions, RecoveryCodesApi } from './factors.ts';
export type {
  Challenges,
  CreateApproversChallengeOptions,
  CreateChallengeOptions,
  RetrieveChallengeOptions,
  WaitForResultOptions,
} from './challenges.ts';
export type { Devices } from './devices.ts';
export type { QrLogins } from './qr-logins.ts';
export type { Actions, ListActionsQuery, TrackOptions, ValidateOptions } from './actions.ts';
export type { ActionRulesApi } from './action-rules.ts';
export type { AdminWebhookDeliveryQuery, WebhookDeliveriesApi, WebhookDeliveryQuery } from './webhook-deliveries.ts';
export { TesseraError, TesseraWebhookError } from './errors.ts';
export type {
  ChallengeNotPendingDetails,
  ClientErrorCode,
  InvalidCodeDetails,
  TesseraErrorCode,
  TesseraErrorInit,
  UserLockedDetails,
  WebhookErrorCode,
} from './errors.ts';
export { verifyWebhook } from './verify-webhook.ts';
export type { VerifyWebhookOptions } from './verify-webhook.ts';
export type { HeadersLike, WebhookHeaders } from './webhook-headers.ts';
export type {
  ActionOutcome,
  ActionRecord,
  ActionRule,
  ActionRules,
  ActionRulesInput,
  ActionState,
  Condition,
  TrackedAction,
  ValidatedAction,
  App,
  AppBranding,
  AppConfig,
  Challenge,
  ChallengeStatus,
  CreatedApp,
  DenyReason,
  Device,
  DeviceAlgorithm,
  DeviceApp,
  DeviceRegistration,
  EnrolledTotpFactor,
  ErrorCode,
  Factor,
  FactorStatus,
  FactorType,
  JsonPatchOperation,
  Page,
  Profile,
  ProfileField,
  ProfileScope,
  QrLoginVerification,
  RecoveryCodes,
  RotatedSecret,
  TotpAlgorithm,
  User,
  ValidationErrorDetails,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEvent,
} from '@tessera/contracts';
