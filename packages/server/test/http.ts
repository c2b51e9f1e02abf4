import { testAdminToken } from './harness.ts';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export type Credentials = { admin: string } | { app: { app_id: string; app_secret: string } } | null;

export function authorization(credentials: Credentials): Record<string, string> {
  if (credentials === null) return {};
  if ('admin' in credentials) return { authorization: `Bearer ${credentials.admin}` };
  const basic = Buffer.from(`${credentials.app.app_id}:${credentials.app.app_secret}`).toString('base64');
  return { authorization: `Basic ${basic}` };
}

/** A small client over real HTTP for tests: JSON in, JSON (or text) out. */
export function client(baseUrl: string, defaultCredentials: Credentials = { admin: testAdminToken }) {
  async function call<T = any>(
    method: string,
    path: string,
    options: { body?: unknown; raw?: string; headers?: Record<string, string>; as?: Credentials } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = {
      ...authorization(options.as === undefined ? defaultCredentials : options.as),
      ...options.headers,
    };
    let body: string | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(baseUrl + path, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    if (response.headers.get('content-type')?.includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed as T };
  }
  return {
    call,
    get: <T = any>(path: string, options?: Parameters<typeof call>[2]) => call<T>('GET', path, options),
    post: <T = any>(path: string, body?: unknown, options?: Parameters<typeof call>[2]) =>
      call<T>('POST', path, { ...options, body }),
    patch: <T = any>(path: string, body: unknown, options?: Parameters<typeof call>[2]) =>
      call<T>('PATCH', path, { ...options, body }),
    delete: <T = any>(path: string, options?: Parameters<typeof call>[2]) => call<T>('DELETE', path, options),
  };
}

export type Client = ReturnType<typeof client>;
