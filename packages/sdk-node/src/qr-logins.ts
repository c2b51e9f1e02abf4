import type { QrLoginVerification } from '@tessera/contracts';
import type { HttpClient } from './http-client.ts';

/** QR login, from the app's backend: verify the token the browser received; link an identity to a user. */
export class QrLogins {
  constructor(private readonly http: HttpClient) {}

  /**
   * Uses the browser's one-time `loginToken` up: the person's `identity_id` for this app, the linked
   * `user_id` (or null) and the profile fields they consented to. A TesseraError otherwise: `404
   * login_token_invalid` (unknown, or another app's), `410 login_token_used`, `410 login_token_expired`
   * (tokens live 2 minutes). Never retried by the SDK: a token verifies once.
   */
  async verify(loginToken: string): Promise<QrLoginVerification> {
    return this.http.request({ method: 'POST', path: '/v1/qr-logins/verify', body: { login_token: loginToken } });
  }

  /**
   * Onboarding: after a login with no linked user, links the identity to your user (created on first
   * use), so that the person's next QR login answers with this `user_id`. `409 identity_already_linked`
   * when it is linked to another user.
   */
  async link(identityId: string, userId: string): Promise<{ identity_id: string; user_id: string }> {
    return this.http.request({ method: 'POST', path: '/v1/qr-logins/links', body: { identity_id: identityId, user_id: userId } });
  }
}
