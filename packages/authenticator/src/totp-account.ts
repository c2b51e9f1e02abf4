import { Secret, TOTP } from 'otpauth';

export const TOTP_ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
export type TotpAlgorithm = (typeof TOTP_ALGORITHMS)[number];

export const TOTP_DIGITS = [6, 8] as const;
export type TotpDigits = (typeof TOTP_DIGITS)[number];

/** The longest step accepted: longer ones exist nowhere we know of and would only be typos. */
export const MAX_TOTP_PERIOD = 3600;

/** What an otpauth URI describes: everything needed to compute codes. */
export interface TotpParameters {
  /** Empty when the URI named no issuer. */
  issuer: string;
  label: string;
  /** Base32 (RFC 4648 §6), upper case, without padding. */
  secret: string;
  algorithm: TotpAlgorithm;
  digits: TotpDigits;
  /** Seconds per step (RFC 6238 §4.1, X). */
  period: number;
}

/** An account as the store keeps it. */
export interface TotpAccount extends TotpParameters {
  /** ISO-8601 UTC. */
  added_at: string;
}

/** What may be shown of an account: everything but its secret. */
export type TotpAccountSummary = Omit<TotpAccount, 'secret'>;

export interface TotpCode {
  code: string;
  /** Whole seconds until the next step, 1..period. */
  seconds_left: number;
  /** ISO-8601 UTC instant at which this code stops being the current one. */
  expires_at: string;
}

export function summarizeAccount(account: TotpAccount): TotpAccountSummary {
  const { secret: _secret, ...summary } = account;
  return summary;
}

/** The code for the step that contains `nowMs` (RFC 6238 §4.2). */
export function totpCode(account: TotpParameters, nowMs: number): TotpCode {
  const code = TOTP.generate({
    secret: Secret.fromBase32(account.secret),
    algorithm: account.algorithm,
    digits: account.digits,
    period: account.period,
    timestamp: nowMs,
  });
  const periodMs = account.period * 1000;
  const stepEndMs = (Math.floor(nowMs / periodMs) + 1) * periodMs;
  return {
    code,
    seconds_left: Math.ceil((stepEndMs - nowMs) / 1000),
    expires_at: new Date(stepEndMs).toISOString(),
  };
}

/** Two entries are the same account when issuer and label both match exactly. */
export function isSameAccount(a: Pick<TotpParameters, 'issuer' | 'label'>, b: Pick<TotpParameters, 'issuer' | 'label'>): boolean {
  return a.issuer === b.issuer && a.label === b.label;
}

/** `Issuer: label`, or the label alone when there is no issuer. */
export function accountName(account: Pick<TotpParameters, 'issuer' | 'label'>): string {
  return account.issuer === '' ? account.label : `${account.issuer}: ${account.label}`;
}

/**
 * Whether a person's filter picks this account: a case-insensitive substring of the issuer, of the label,
 * or of `issuer:label` (so `github:alice` tells two GitHub accounts apart).
 */
export function accountMatches(account: Pick<TotpParameters, 'issuer' | 'label'>, filter: string): boolean {
  const needle = filter.toLowerCase();
  return [account.issuer, account.label, `${account.issuer}:${account.label}`, accountName(account)].some((text) =>
    text.toLowerCase().includes(needle),
  );
}
