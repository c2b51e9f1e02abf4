/**
 * Every failure the authenticator explains to a person carries a stable `code`, so scripts using
 * `--json` can tell them apart without reading the sentence.
 */
export type AuthenticatorErrorCode =
  // The command line itself: exit status 2.
  | 'unknown_command'
  | 'invalid_arguments'
  // Ctrl-C or Ctrl-D at a prompt: exit status 130, as a shell gives a program stopped by Ctrl-C.
  | 'cancelled'
  // An otpauth URI (typed, or read from a QR code).
  | 'invalid_uri'
  | 'not_totp'
  | 'missing_label'
  | 'missing_secret'
  | 'invalid_secret'
  | 'unsupported_algorithm'
  | 'unsupported_digits'
  | 'unsupported_period'
  // A QR image.
  | 'unreadable_image'
  | 'no_qr_code'
  // Accounts.
  | 'account_exists'
  | 'no_matching_account'
  // Devices and push approvals.
  | 'not_initialized'
  | 'identity_exists'
  | 'invalid_registration_uri'
  | 'no_registrations'
  | 'challenge_not_found'
  | 'number_required'
  // QR login
  | 'not_a_login_code'
  | 'no_identity'
  | 'decision_required'
  | 'server_refused'
  | 'server_unreachable'
  // The store.
  | 'store_unsafe'
  | 'store_corrupt'
  | 'store_too_new'
  | 'store_locked';

const USAGE_CODES: ReadonlySet<AuthenticatorErrorCode> = new Set(['unknown_command', 'invalid_arguments']);

/** A fault in what the person asked for or in their files; the CLI prints the message, never a stack trace. */
export class AuthenticatorError extends Error {
  override readonly name = 'AuthenticatorError';
  readonly code: AuthenticatorErrorCode;

  constructor(code: AuthenticatorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** 2 for a command line that could not be understood (as most Unix tools do), 130 when cancelled, 1 for everything else. */
  get exitCode(): number {
    if (this.code === 'cancelled') return 130;
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}
