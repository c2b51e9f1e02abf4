import { signDeviceRequestToken } from '@tessera/contracts';
import { AuthenticatorError } from './errors.ts';
import { privateKeyOf, type Registration } from './identity.ts';

/** The error body every Tessera server answers with. */
interface ErrorBody {
  error?: { code?: string; message?: string; details?: unknown };
}

/**
 * One call to a Tessera server. Device calls (`as` a registration) carry a fresh
 * `Authorization: Device <JWT>` signed by that registration's key. A refusal becomes an
 * AuthenticatorError `server_refused` whose message is the server's, with its error code.
 */
export async function callServer<T>(
  server: string,
  method: string,
  path: string,
  options: { body?: unknown; as?: Registration } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.as) headers.authorization = await deviceAuthorization(options.as, method, path);
  let response: Response;
  try {
    response = await fetch(server.replace(/\/+$/, '') + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new AuthenticatorError('server_unreachable', `Cannot reach ${server}: ${(error as Error).message}.`, { cause: error });
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    throw new AuthenticatorError('server_refused', `${server} answered HTTP ${response.status} with something that is not JSON.`);
  }
  if (response.ok) return body as T;
  const refusal = (body as ErrorBody | undefined)?.error;
  const reason = (refusal?.details as { reason?: unknown } | undefined)?.reason;
  throw new ServerRefusal(response.status, refusal?.code ?? 'unknown', refusal?.message ?? `HTTP ${response.status}`, typeof reason === 'string' ? reason : null);
}

/**
 * A refusal by the server: `serverCode` is its error code (e.g. challenge_not_pending), `reason` its
 * `details.reason` when it gives one (e.g. unknown_device).
 */
export class ServerRefusal extends AuthenticatorError {
  constructor(
    readonly status: number,
    readonly serverCode: string,
    message: string,
    readonly reason: string | null = null,
  ) {
    super('server_refused', `The server refused: ${message} (${serverCode})`);
  }

  /** The server does not know this device (it was removed): the registration is of no more use. */
  get deviceGone(): boolean {
    return this.status === 401 && this.reason === 'unknown_device';
  }
}

export async function deviceAuthorization(registration: Registration, method: string, path: string): Promise<string> {
  const token = await signDeviceRequestToken(await privateKeyOf(registration), {
    deviceId: registration.device_id,
    method,
    path: new URL(path, 'http://x').pathname,
  });
  return `Device ${token}`;
}
