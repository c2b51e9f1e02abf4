export { main, COMMANDS } from './cli.ts';
export type { Command, CommandContext, TextSink } from './command.ts';
export { AuthenticatorError } from './errors.ts';
export type { AuthenticatorErrorCode } from './errors.ts';
export { parseOtpauthUri, looksLikeUri } from './otpauth-uri.ts';
export { normalizeBase32Secret } from './base32-secret.ts';
export { decodeQrPng, readQrImageFile } from './qr-image.ts';
export { addAccount } from './add-account.ts';
export type { AddAccountOutcome, AddAccountStatus } from './add-account.ts';
export {
  MAX_TOTP_PERIOD,
  TOTP_ALGORITHMS,
  TOTP_DIGITS,
  accountMatches,
  accountName,
  isSameAccount,
  summarizeAccount,
  totpCode,
} from './totp-account.ts';
export type { TotpAccount, TotpAccountSummary, TotpAlgorithm, TotpCode, TotpDigits, TotpParameters } from './totp-account.ts';
export { STORE_VERSION, parseStore, readStore, serializeStore, updateStore } from './store.ts';
export type { StoreContents } from './store.ts';
export { STORE_FILE_NAME, resolveStoreDirectory, storeFilePath } from './store-location.ts';
