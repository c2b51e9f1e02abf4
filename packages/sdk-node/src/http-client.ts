import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TesseraError } from './errors.ts';
import { errorFromResponse } from './response-error.ts';
import { retryDelayMs, type CallKind } from './retry-policy.ts';

export type QueryValue = string | number | boolean | undefined;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The path under the base URL, with its parameters already encoded. */
  path: string;
  query?: Record<string, QueryValue>;
  body?: unknown;
  /** The media type of `body`; application/json unless said otherwise. */
  contentType?: string;
  /** A creating call: sent with an Idempotency-Key (this one, or a new UUID), so that a retry is safe. */
  creating?: { idempotencyKey?: string | undefined };
  /** This call's timeout per attempt, instead of the client's (a long-poll holds its answer longer). */
  timeoutMs?: number;
}

export interface HttpClientOptions {
  baseUrl: string;
  /** The whole `Authorization` header. */
  authorization: string;
  timeoutMs?: number | undefined;
}

export const defaultTimeoutMs = 30_000;
const userAgent = 'tessera-sdk-node/0.1.0';

/** Calls the Tessera API: JSON in and out, one timeout per attempt, errors as TesseraError, at most one retry. */
export class HttpClient {
  readonly #baseUrl: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;

  constructor(options: HttpClientOptions) {
    if (!options.baseUrl) throw new TypeError('baseUrl is required');
    // Kept as a prefix, so that a base URL with a path (https://example.com/tessera) keeps it.
    this.#baseUrl = new URL(options.baseUrl).href.replace(/\/+$/, '');
    this.#authorization = options.authorization;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  }

  async request<T>(request: HttpRequest): Promise<T> {
    const kind: CallKind = request.creating ? 'create' : request.method === 'GET' ? 'read' : 'write';
    const init = this.#init(request);
    const url = this.#url(request);
    const timeoutMs = request.timeoutMs ?? this.#timeoutMs;
    try {
      return await this.#attempt<T>(url, init, timeoutMs);
    } catch (error) {
      const delay = error instanceof TesseraError ? retryDelayMs(kind, error) : null;
      if (delay === null) throw error;
      await sleep(delay);
      // The same init: a creating call keeps its Idempotency-Key, so the server replays rather than repeats.
      return this.#attempt<T>(url, init, timeoutMs);
    }
  }

  #url(request: HttpRequest): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) params.set(name, String(value));
    }
    const search = params.toString();
    return `${this.#baseUrl}${request.path}${search === '' ? '' : `?${search}`}`;
  }

  #init(request: HttpRequest): RequestInit {
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: this.#authorization,
      'user-agent': userAgent,
    };
    if (request.creating) headers['idempotency-key'] = request.creating.idempotencyKey ?? randomUUID();
    if (request.body === undefined) return { method: request.method, headers };
    headers['content-type'] = request.contentType ?? 'application/json';
    return { method: request.method, headers, body: JSON.stringify(request.body) };
  }

  /** The client's timeout per attempt, in milliseconds. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  async #attempt<T>(url: string, init: RequestInit, timeoutMs: number): Promise<T> {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { ...init, signal });
      text = await response.text();
    } catch (error) {
      throw this.#transportError(error, signal, timeoutMs);
    }
    if (!response.ok) throw errorFromResponse(response.status, response.headers, text);
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new TesseraError({
        code: 'unexpected_response',
        message: `The server answered HTTP ${response.status} with a body that is not JSON.`,
        status: response.status,
        cause: error,
      });
    }
  }

  #transportError(error: unknown, signal: AbortSignal, timeoutMs: number): TesseraError {
    if (signal.aborted) {
      return new TesseraError({
        code: 'timeout',
        message: `No answer from Tessera within ${timeoutMs} ms.`,
        status: 0,
        cause: error,
      });
    }
    // fetch says only "fetch failed"; its cause says why (ECONNREFUSED, ENOTFOUND, …).
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const reason =
      cause instanceof Error ? ('code' in cause && typeof cause.code === 'string' ? cause.code : cause.message) : String(cause);
    return new TesseraError({
      code: 'network_error',
      message: `Tessera could not be reached: ${reason}.`,
      status: 0,
      cause: error,
    });
  }
}
