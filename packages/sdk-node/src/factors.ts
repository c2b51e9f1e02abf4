import type { EnrolledTotpFactor, Factor, RecoveryCodes, TotpAlgorithm } from '@tessera/contracts';
import type { CreatingCallOptions } from './admin-apps.ts';
import type { HttpClient } from './http-client.ts';
import { pathSegment, userPath } from './path-segment.ts';

/** The parameters of a TOTP factor; the server's defaults are SHA1, 6 digits, 30 seconds. */
export interface EnrollTotpOptions {
  algorithm?: TotpAlgorithm;
  digits?: 6 | 8;
  period?: 30 | 60;
  /** A name for the person to tell their factors apart, such as "Work phone". */
  name?: string;
}

/** An existing TOTP secret, set up with another service, proved by a current code of it. */
export interface ImportTotpOptions extends EnrollTotpOptions {
  /** Base32 (RFC 4648), at least 128 bits. */
  secret: string;
  /** A current code of that secret, with these parameters. */
  code: string;
}

const factorPath = (factorId: string) => `/v1/factors/${pathSegment('factorId', factorId)}`;

/** A user's second factors: TOTP enrollment and activation, listing, deletion. */
export class Factors {
  constructor(private readonly http: HttpClient) {}

  /**
   * Enrolls a TOTP factor (`status: "unverified"`). The answer holds `secret`, `uri` (otpauth://) and
   * `qr_data_url` (a PNG of the QR code): the only time they are shown. Show the QR code to the person,
   * then `activate` the factor with the first code their authenticator shows. Creates the user if needed.
   */
  async enrollTotp(userId: string, options: EnrollTotpOptions = {}, call: CreatingCallOptions = {}): Promise<EnrolledTotpFactor> {
    return this.http.request({
      method: 'POST',
      path: `${userPath(userId)}/factors`,
      body: { type: 'totp', ...options },
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /**
   * Imports an existing TOTP secret with a current code of it: active at once (`422 invalid_code` when the
   * code does not match the secret now; nothing is stored then).
   */
  async importTotp(userId: string, options: ImportTotpOptions, call: CreatingCallOptions = {}): Promise<EnrolledTotpFactor> {
    return this.http.request({
      method: 'POST',
      path: `${userPath(userId)}/factors`,
      body: { type: 'totp', ...options },
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }

  /**
   * Activates an unverified TOTP factor with its first code. A wrong code is `422 invalid_code` (with
   * `details.attempts_left`, the user's wrong codes left before the lockout) and counts toward it: the tenth
   * in a row is still a 422 (with `details.user_locked: true`), and every code after it, right or wrong, is
   * `429 user_locked` until the lockout ends. Never retried by the SDK.
   */
  async activate(factorId: string, code: string): Promise<Factor> {
    return this.http.request({ method: 'POST', path: `${factorPath(factorId)}/activate`, body: { code } });
  }

  /** The user's factors, TOTP and recovery (with `codes_left`); none for a user the app never used. */
  async list(userId: string): Promise<Factor[]> {
    const { data } = await this.http.request<{ data: Factor[] }>({ method: 'GET', path: `${userPath(userId)}/factors` });
    return data;
  }

  async retrieve(factorId: string): Promise<Factor> {
    return this.http.request({ method: 'GET', path: factorPath(factorId) });
  }

  /** Disables the factor by deleting it: a pending challenge for it can no longer be verified. */
  async delete(factorId: string): Promise<void> {
    await this.http.request<undefined>({ method: 'DELETE', path: factorPath(factorId) });
  }
}

/** A user's recovery codes, for when their authenticator is lost. */
export class RecoveryCodesApi {
  constructor(private readonly http: HttpClient) {}

  /**
   * Ten new single-use codes, shown only now (stored hashed); the user's previous codes stop working.
   * Redeem one with `challenges.create(userId, { type: 'recovery' })` then `challenges.verify(id, code)`.
   */
  async generate(userId: string, call: CreatingCallOptions = {}): Promise<RecoveryCodes> {
    return this.http.request({
      method: 'POST',
      path: `${userPath(userId)}/recovery-codes`,
      creating: { idempotencyKey: call.idempotencyKey },
    });
  }
}
