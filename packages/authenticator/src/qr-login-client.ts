import { qrLoginUriPrefix, signQrLoginProof, type QrLoginAction, type QrLoginClaim } from '@tessera/contracts';
import { AuthenticatorError } from './errors.ts';
import { privateKeyOf, type Identity } from './identity.ts';
import { parseServerUrl } from './server-url.ts';

/** What a login QR code says, read without trusting it: the server checks its signature. */
export interface LoginCode {
  payload: string;
  server: string;
  loginId: string;
  nonce: string;
}

export function parseLoginCode(text: string): LoginCode {
  const trimmed = text.trim();
  if (!trimmed.startsWith(qrLoginUriPrefix)) throw new AuthenticatorError('not_a_login_code', 'This is not a Tessera login code (tessera://login?…).');
  const params = new URLSearchParams(trimmed.slice(qrLoginUriPrefix.length));
  const [server = '', loginId = '', nonce = ''] = ['server', 'login_id', 'nonce'].map((name) => params.get(name) ?? '');
  const missing = Object.entries({ server, login_id: loginId, nonce }).filter(([, value]) => value === '');
  if (missing.length > 0) {
    throw new AuthenticatorError('not_a_login_code', `This login code lacks its ${missing.map(([name]) => name).join(', ')}.`);
  }
  const base = parseServerUrl(server);
  if ('problem' in base) throw new AuthenticatorError('not_a_login_code', `The server of this login code, ${server}, ${base.problem}.`);
  return { payload: trimmed, server: base.url, loginId, nonce };
}

/** The server calls of a QR login, each signed by the identity key. */
export class QrLoginClient {
  constructor(
    private readonly code: LoginCode,
    private readonly identity: Identity,
  ) {}

  async claim(): Promise<QrLoginClaim> {
    return this.#post('/v1/qr-logins/claim', { qr_payload: this.code.payload, proof: await this.#proof('claim') });
  }

  async answer(action: 'approve' | 'deny', consent?: { fields: string[]; profile?: string }): Promise<{ status: string }> {
    const proof = await this.#proof(action, consent);
    return this.#post(`/v1/qr-logins/${encodeURIComponent(this.code.loginId)}/answer`, { proof });
  }

  async #proof(action: QrLoginAction, consent?: { fields: string[]; profile?: string }): Promise<string> {
    const key = { privateKey: await privateKeyOf(this.identity), publicJwk: this.identity.public_jwk };
    return signQrLoginProof(key, { login_id: this.code.loginId, nonce: this.code.nonce, action, ...(consent as object) });
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    const url = `${this.code.server.replace(/\/+$/, '')}${path}`;
    let response: Response;
    try {
      response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    } catch (error) {
      throw new AuthenticatorError('server_unreachable', `Cannot reach ${this.code.server}: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
    }
    const answer = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    if (!response.ok) {
      const reason = answer?.error ? `${answer.error.message ?? ''} (${answer.error.code ?? response.status})` : `HTTP ${response.status}`;
      throw new AuthenticatorError('server_refused', `The server refused: ${reason}`);
    }
    return answer as T;
  }
}
