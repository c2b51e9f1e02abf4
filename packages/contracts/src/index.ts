export { errorCatalog, isErrorCode } from './errors.ts';
export type { ErrorBody, ErrorCode, ValidationErrorDetails } from './errors.ts';
export { profileScopes } from './apps.ts';
export type {
  App,
  AppBranding,
  AppConfig,
  CreatedApp,
  JsonPatchOperation,
  Page,
  ProfileScope,
  RotatedSecret,
} from './apps.ts';
export { webhookDeliveryStatuses, webhookHeaders } from './webhooks.ts';
export type { WebhookDelivery, WebhookDeliveryStatus, WebhookEvent } from './webhooks.ts';
export { challengeStatuses, denyReasons, factorTypes, totpAlgorithms } from './users.ts';
export type {
  Challenge,
  ChallengeStatus,
  DenyReason,
  EnrolledTotpFactor,
  Factor,
  FactorStatus,
  FactorType,
  RecoveryCodes,
  TotpAlgorithm,
  User,
} from './users.ts';
export {
  deviceAlgorithms,
  deviceDecisions,
  deviceDecisionType,
  deviceIdentityProofType,
  deviceRequestTokenType,
  maxDeviceRequestTokenSeconds,
} from './devices.ts';
export { algorithmOfPrivateKey, signDeviceDecision, signDeviceIdentityProof, signDeviceRequestToken } from './device-signing.ts';
export type {
  AnswerChallenge,
  Device,
  DeviceChallenge,
  DeviceNotification,
  DeviceStreamMessage,
  DeviceAlgorithm,
  DeviceApp,
  DeviceDecision,
  DeviceDecisionKind,
  DeviceIdentityProof,
  DevicePublicJwk,
  DeviceRegistration,
  DeviceRequestToken,
  RegisterDevice,
} from './devices.ts';
export { profileFields, qrLoginProofType, qrLoginUriPrefix, qrSocketUnexpectedMessageCode } from './qr-logins.ts';
export type {
  Profile,
  ProfileField,
  QrLoginAction,
  QrLoginAnswerRequest,
  QrLoginBrowser,
  QrLoginClaim,
  QrLoginClaimRequest,
  QrLoginProof,
  QrLoginServerMessage,
  QrLoginVerification,
} from './qr-logins.ts';
export { encryptProfile, publicJwkOf, signQrLoginProof } from './qr-login-signing.ts';
export { actionOutcomes, actionStates, conditionOps, signalNames } from './actions.ts';
export type {
  ActionOutcome,
  ActionRecord,
  ActionRule,
  ActionRules,
  ActionRulesInput,
  ActionState,
  ClientChallengeSuccess,
  ClientPushChallenge,
  ClientTotpEnrollment,
  Condition,
  ConditionOp,
  FieldCondition,
  ScalarValue,
  SignalCondition,
  SignalName,
  TrackActionInput,
  TrackedAction,
  ValidateActionInput,
  ValidatedAction,
} from './actions.ts';
