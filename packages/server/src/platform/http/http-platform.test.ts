import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { compileErrors, validate } from '@readme/openapi-parser';
import pino from 'pino';
import { loggerOptions } from '../logging.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testAdminToken } from '../../../test/harness.ts';
import { client, type Client } from '../../../test/http.ts';

/** The platform's HTTP surface: probes, metrics, the OpenAPI document, and logs without secrets. */
describe('HTTP platform', () => {
  const logLines: string[] = [];
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let api: Client;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    server = await startTestServer('pglite', { logger: pino(loggerOptions('debug'), sink) });
    api = client(server.url);
  });
  afterAll(() => server?.stop());

  it('answers the liveness and readiness probes', async () => {
    expect((await api.get('/healthz', { as: null })).body).toEqual({ status: 'ok' });
    const ready = await api.get('/readyz', { as: null });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', database: 'ok', bus: 'ok' });
  });

  it('exposes Prometheus metrics, with request durations by route', async () => {
    await api.get('/v1/apps');
    const metrics = await api.get('/metrics', { as: null });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.body).toContain('tessera_process_cpu_seconds_total');
    expect(metrics.body).toMatch(/tessera_http_request_duration_seconds_count\{method="GET",route="\/v1\/apps",status_code="200"\} \d+/);
  });

  it('serves an OpenAPI 3 document generated from the route schemas, and a docs page', async () => {
    const reply = await api.get('/v1/openapi.json', { as: null });
    expect(reply.status).toBe(200);
    const doc = reply.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/apps', '/v1/apps/{app_id}', '/v1/apps/{app_id}/rotate-secret', '/v1/webhook-deliveries']),
    );
    const create = doc.paths['/v1/apps'].post;
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['name']);
    expect(create.responses['201']).toBeDefined();
    expect(Object.keys(doc.paths['/v1/apps/{app_id}'].patch.requestBody.content)).toEqual(
      expect.arrayContaining(['application/merge-patch+json', 'application/json-patch+json']),
    );
    expect(doc.components.securitySchemes).toHaveProperty('adminToken');
    // An independent validator accepts the document as OpenAPI.
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true);
    const docs = await api.get('/docs/', { as: null });
    expect(docs.status).toBe(200);
    expect(docs.body).toContain('swagger');
  });

  it("keeps an error's code in its log line (as error_code) while censoring fields named code", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = pino(loggerOptions('info'), sink);
    logger.warn({ err: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) }, 'database unreachable');
    logger.warn({ err: Object.assign(new Error('terminating connection'), { code: '57P01' }) }, 'connection ended');
    logger.warn({ body: { code: '123456' }, err: Object.assign(new Error('wrong code'), { code: '12345678' }) }, 'a code');
    const [refused, ended, code] = lines.map((line) => JSON.parse(line) as { err: Record<string, unknown>; body?: unknown });
    expect(refused?.err).toMatchObject({ code: '[redacted]', error_code: 'ECONNREFUSED' });
    expect(ended?.err).toMatchObject({ error_code: '57P01' });
    expect(code?.err.error_code).toBeUndefined();
    expect(lines.join('')).not.toMatch(/123456/);
  });

  it('logs requests without credentials, secrets or query strings', async () => {
    const created = await api.post('/v1/apps', { name: 'Logged' });
    const { app_id, app_secret, webhook_secret } = created.body;
    await api.get(`/v1/apps/${app_id}?token=query-secret-value`, { as: { app: created.body } });
    await api.get('/v1/apps', { as: null, headers: { authorization: 'Bearer wrong-but-secret-token' } });
    const logs = logLines.join('');
    expect(logs).toContain('request completed');
    expect(logs).toContain(app_id);
    for (const secret of [app_secret, webhook_secret, testAdminToken, 'query-secret-value', 'wrong-but-secret-token']) {
      expect(logs).not.toContain(secret);
    }
    expect(logs).not.toContain(Buffer.from(`${app_id}:${app_secret}`).toString('base64'));
  });

  it("answers the router's and the HTTP parser's refusals in the documented error format", async () => {
    for (const path of ['/v1/challenges/%ZZ', '/v1/users/%C0%AF', `/v1/users/${'u'.repeat(255 * 12 + 1)}`]) {
      const reply = await api.get(path);
      expect([reply.status, reply.body.error?.code, reply.body.error?.details?.field], path).toEqual([400, 'validation_failed', '(path)']);
    }
    // Refused by Node's HTTP parser before Fastify sees a request: the answer is written on the socket.
    const oversized = await rawExchange(server.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(oversized).toMatch(/^HTTP\/1\.1 431 [^]*\r\n\r\n\{"error":\{"code":"headers_too_large","message":"[^"]+"\}\}$/);
    const garbled = await rawExchange(server.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(garbled).toMatch(/^HTTP\/1\.1 400 [^]*\r\n\r\n\{"error":\{"code":"validation_failed","message":"[^"]+"\}\}$/);
  });
});

/** Sends raw bytes and reads everything the server answers until it closes the connection. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', reject);
  });
}

describe('metrics behind TESSERA_METRICS_TOKEN', () => {
  const metricsToken = 'metrics-token-'.padEnd(40, 'm');
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    server = await startTestServer('pglite', { env: { TESSERA_METRICS_TOKEN: metricsToken } });
  });
  afterAll(() => server?.stop());

  it('answers 401 without the token, or with another one (the admin token too), and the metrics with it', async () => {
    const api = client(server.url, null);
    const wrong: Array<Record<string, string>> = [{}, { authorization: `Bearer ${testAdminToken}` }, { authorization: `Basic ${metricsToken}` }];
    for (const headers of wrong) {
      const refused = await api.get('/metrics', { headers });
      expect([refused.status, refused.body.error.code]).toEqual([401, 'unauthorized']);
      expect(refused.headers.get('www-authenticate')).toContain('Bearer');
    }
    const metrics = await api.get('/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('tessera_process_cpu_seconds_total');
    expect((await api.get('/healthz')).status).toBe(200);
  });
});
