import type { ClientChallengeSuccess, ClientPushChallenge, ClientTotpEnrollment, ErrorCode } from '@tessera/contracts';

/**
 * What a refused call says: the API's error; `network_error` (status 0) when no answer came; `unexpected_response`
 * when the answer is not the API's (a proxy's HTML error page, say).
 */
export interface ActionCallError {
  code: ErrorCode | 'network_error' | 'unexpected_response';
  message: string;
  status: number;
  details?: unknown;
}

/** Expected refusals (a wrong code, an expired token) are values to handle, not exceptions. */
export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: ActionCallError };

export interface ActionClientOptions {
  /** The Tessera server, such as https://tessera.example.com. */
  baseUrl: string;
  /** The track token that the app's backend got from `POST /v1/users/{user_id}/actions/{action}`. */
  token: string;
}

/**
 * The client API of an action, for a web page: enroll a first TOTP factor, pass a challenge with a TOTP
 * or recovery code, or with a push approval. A success answers the token for the backend's `validate`.
 */
export class ActionClient {
  readonly #baseUrl: string;
  #token: string;

  constructor(options: ActionClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token;
  }

  /** Another track token (a new action) for the calls that follow. */
  setToken(token: string): void {
    this.#token = token;
  }

  readonly totp = {
    /** A new secret with its otpauth URI and QR code, for a user with no active factor yet. */
    enroll: (): Promise<ActionResult<ClientTotpEnrollment>> => this.#post('/v1/client/totp/enroll'),
    /** Checks a code (the first code of an enrollment activates it); answers the success token. */
    verify: (input: { code: string }): Promise<ActionResult<ClientChallengeSuccess>> => this.#post('/v1/client/totp/verify', input),
  };

  readonly recovery = {
    /** Checks one of the user's recovery codes; answers the success token. */
    verify: (input: { code: string }): Promise<ActionResult<ClientChallengeSuccess>> => this.#post('/v1/client/recovery/verify', input),
  };

  readonly push = {
    /** Sends a push request to the user's devices (or answers the pending one): show its `number`. */
    start: (): Promise<ActionResult<ClientPushChallenge>> => this.#post('/v1/client/push'),
    /**
     * The request's status, held up to `waitSeconds` (at most 60) until it changes; once `approved`, it
     * carries the success token. Call it again while it is `pending`.
     */
    wait: (challengeId: string, waitSeconds = 25): Promise<ActionResult<ClientPushChallenge>> =>
      this.#call('GET', `/v1/client/challenges/${encodeURIComponent(challengeId)}?wait=${waitSeconds}`),
  };

  #post<T>(path: string, body?: object): Promise<ActionResult<T>> {
    return this.#call('POST', path, body);
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<ActionResult<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (body) headers['content-type'] = 'application/json';
    const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.#baseUrl + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
      text = await response.text();
    } catch (error) {
      return { ok: false, error: { code: 'network_error', message: messageOf(error), status: 0 } };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok && parsed !== undefined) return { ok: true, data: parsed as T };
    const error = (parsed as { error?: Omit<ActionCallError, 'status'> } | undefined)?.error;
    if (!error?.code) {
      const message = `HTTP ${response.status}: not an answer of the Tessera API (${response.headers.get('content-type') ?? 'no content type'})`;
      return { ok: false, error: { code: 'unexpected_response', message, status: response.status } };
    }
    return { ok: false, error: { code: error.code, message: error.message, status: response.status, details: error.details } };
  }
}
