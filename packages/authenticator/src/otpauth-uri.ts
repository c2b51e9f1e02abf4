import { normalizeBase32Secret } from './base32-secret.ts';
import { AuthenticatorError } from './errors.ts';
import { hasUnsafeCharacters } from './terminal-text.ts';
import { MAX_TOTP_PERIOD, TOTP_ALGORITHMS, TOTP_DIGITS } from './totp-account.ts';
import type { TotpAlgorithm, TotpDigits, TotpParameters } from './totp-account.ts';

// Key URI format (Google Authenticator wiki, the de-facto standard):
//   otpauth://TYPE/LABEL?PARAMETERS   with LABEL = ISSUER ":" ACCOUNT  or  ACCOUNT
// Defaults: algorithm SHA1, digits 6, period 30.
const URI_SHAPE = /^otpauth:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?(?:#.*)?$/is;
const SINGLE_VALUED = ['secret', 'issuer', 'algorithm', 'digits', 'period'] as const;
/**
 * The shortest secret accepted: 80 bits, 16 Base32 characters. RFC 4226 §4 asks for 128 bits, but many services
 * issue 80-bit secrets; shorter ones could be guessed, and are most likely a truncated copy.
 */
const MIN_SECRET_CHARACTERS = 16;

/** Whether a command-line argument is meant as a URI (even a mistyped otpauth one) rather than an image path. */
export function looksLikeUri(text: string): boolean {
  const trimmed = text.trim();
  return /^otpauth/i.test(trimmed) || /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed);
}

/** Reads a TOTP account from an otpauth URI, or explains in the error what is wrong with it. */
export function parseOtpauthUri(uri: string): TotpParameters {
  const text = uri.trim();
  if (/^otpauth-migration:/i.test(text)) {
    throw new AuthenticatorError(
      'invalid_uri',
      'This is a Google Authenticator export (otpauth-migration://), not an otpauth:// URI; export the accounts one at a time instead.',
    );
  }
  if (!/^otpauth:/i.test(text)) {
    throw new AuthenticatorError('invalid_uri', 'This is not an otpauth URI: it must start with otpauth://totp/.');
  }
  const shape = URI_SHAPE.exec(text);
  if (shape === null) {
    throw new AuthenticatorError('invalid_uri', 'This otpauth URI is malformed: expected otpauth://totp/ISSUER:ACCOUNT?secret=…');
  }
  const [, rawType = '', rawLabel = '', rawQuery = ''] = shape;

  const type = rawType.toLowerCase();
  if (type === 'hotp') {
    throw new AuthenticatorError('not_totp', 'This is an HOTP (counter-based) account; only TOTP (time-based) is supported.');
  }
  if (type !== 'totp') {
    throw new AuthenticatorError('not_totp', `Unknown OTP type "${rawType}"; only totp is supported.`);
  }

  const params = new URLSearchParams(rawQuery);
  for (const name of SINGLE_VALUED) {
    if (params.getAll(name).length > 1) {
      throw new AuthenticatorError('invalid_uri', `The otpauth URI gives the parameter "${name}" more than once.`);
    }
  }

  const label = parseLabel(rawLabel);
  const issuerParam = params.get('issuer')?.trim() ?? '';
  // When both are given they should agree; where they do not, the parameter wins, as in Google Authenticator.
  const issuer = issuerParam !== '' ? issuerParam : label.issuer;
  checkPrintable('issuer', issuer);

  const rawSecret = params.get('secret');
  if (rawSecret === null || rawSecret.trim() === '') {
    throw new AuthenticatorError('missing_secret', 'The otpauth URI has no secret parameter.');
  }

  const secret = normalizeBase32Secret(rawSecret);
  if (secret.length < MIN_SECRET_CHARACTERS) {
    throw new AuthenticatorError(
      'invalid_secret',
      `The secret is too short: ${secret.length} Base32 characters (${Math.floor((secret.length * 5) / 8) * 8} bits); at least ${MIN_SECRET_CHARACTERS} (80 bits) are needed.`,
    );
  }

  return {
    issuer,
    label: label.account,
    secret,
    algorithm: parseAlgorithm(params.get('algorithm')),
    digits: parseDigits(params.get('digits')),
    period: parsePeriod(params.get('period')),
  };
}

function parseLabel(rawLabel: string): { issuer: string; account: string } {
  let label: string;
  try {
    label = decodeURIComponent(rawLabel);
  } catch (error) {
    throw new AuthenticatorError('invalid_uri', 'The label of the otpauth URI is not valid percent-encoding.', { cause: error });
  }
  // Neither part may contain a colon, so the first one separates them; spaces may follow it.
  const colon = label.indexOf(':');
  const issuer = colon === -1 ? '' : label.slice(0, colon).trim();
  const account = (colon === -1 ? label : label.slice(colon + 1)).trim();
  if (account === '') {
    throw new AuthenticatorError('missing_label', 'The otpauth URI has no account name in its label (otpauth://totp/ISSUER:ACCOUNT).');
  }
  checkPrintable('label', account);
  return { issuer, account };
}

function checkPrintable(what: string, value: string): void {
  // Control or bidi characters in a name would let a QR code rewrite or reorder what the person sees.
  if (hasUnsafeCharacters(value)) {
    throw new AuthenticatorError('invalid_uri', `The ${what} of the otpauth URI contains control or bidirectional-override characters.`);
  }
}

function parseAlgorithm(raw: string | null): TotpAlgorithm {
  if (raw === null) return 'SHA1';
  const name = raw.trim().toUpperCase().replace('-', '');
  const algorithm = TOTP_ALGORITHMS.find((candidate) => candidate === name);
  if (algorithm === undefined) {
    throw new AuthenticatorError(
      'unsupported_algorithm',
      `Unsupported algorithm "${raw}"; supported: ${TOTP_ALGORITHMS.join(', ')}.`,
    );
  }
  return algorithm;
}

function parseDigits(raw: string | null): TotpDigits {
  if (raw === null) return 6;
  const value = /^\d{1,2}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  const digits = TOTP_DIGITS.find((candidate) => candidate === value);
  if (digits === undefined) {
    throw new AuthenticatorError('unsupported_digits', `Unsupported number of digits "${raw}"; supported: ${TOTP_DIGITS.join(' or ')}.`);
  }
  return digits;
}

function parsePeriod(raw: string | null): number {
  if (raw === null) return 30;
  const value = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_TOTP_PERIOD) {
    throw new AuthenticatorError(
      'unsupported_period',
      `Unsupported period "${raw}"; it must be a whole number of seconds from 1 to ${MAX_TOTP_PERIOD}.`,
    );
  }
  return value;
}
