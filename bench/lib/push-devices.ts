// Push devices for the bench: registered through the public API as an authenticator does, and their live
// streams (GET /v1/device/stream, a WebSocket per device) held open by the bench process.
import { performance } from 'node:perf_hooks';
import { exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { Pool } from 'undici';
import WebSocket from 'ws';
import { signDeviceDecision, signDeviceRequestToken } from '@tessera/contracts';

export interface BenchDevice {
  userId: string;
  deviceId: string;
  privateKey: CryptoKey;
}

/** `Authorization: Device <JWT>` for one request of this device (a fresh jti each time). */
export async function deviceAuthorization(device: BenchDevice, method: string, path: string): Promise<string> {
  return `Device ${await signDeviceRequestToken(device.privateKey, { deviceId: device.deviceId, method, path })}`;
}

/** The signed approval of a challenge, as POST /v1/device/challenges/{id}/answer takes it. */
export function signedApproval(device: BenchDevice, challengeId: string): Promise<string> {
  return signDeviceDecision(device.privateKey, { challenge_id: challengeId, decision: 'approve' }, { deviceId: device.deviceId });
}

export interface RegisterOptions {
  pool: Pool;
  /** The app's `Basic …` header. */
  authorization: string;
  prefix: string;
  count: number;
  concurrency: number;
  progress(message: string): void;
}

/**
 * Registers `count` devices, one per new user: `POST /v1/users/{user_id}/device-registrations` (app auth; creates the
 * user) → the token from `registration_uri`; a fresh P-256 key; `POST /v1/devices {registration_token, public_key}`.
 */
export async function registerDevices(options: RegisterOptions): Promise<{ devices: BenchDevice[]; seconds: number }> {
  const devices: BenchDevice[] = [];
  const started = Date.now();
  let next = 0;
  let lastReport = started;

  async function post(path: string, body: unknown, headers: Record<string, string>): Promise<Record<string, unknown>> {
    const response = await options.pool.request({
      method: 'POST',
      path,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 201) throw new Error(`POST ${path}: HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as Record<string, unknown>;
  }

  async function loop(): Promise<void> {
    while (next < options.count) {
      const userId = `${options.prefix}-${next++}`;
      const registration = await post(`/v1/users/${encodeURIComponent(userId)}/device-registrations`, {}, {
        authorization: options.authorization,
      });
      const token = new URL(String(registration.registration_uri)).searchParams.get('token');
      if (!token) throw new Error(`no token in registration_uri ${String(registration.registration_uri)}`);
      const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
      const { kty, crv, x, y } = await exportJWK(publicKey);
      const device = await post('/v1/devices', { registration_token: token, public_key: { kty, crv, x, y } }, {});
      devices.push({ userId, deviceId: String(device.device_id), privateKey });
      const now = Date.now();
      if (now - lastReport >= 5_000) {
        lastReport = now;
        options.progress(`  registered ${devices.length} / ${options.count} devices (${(devices.length / ((now - started) / 1000)).toFixed(0)}/s)`);
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, () => loop()));
  return { devices, seconds: (Date.now() - started) / 1000 };
}

/** A message as the bench receives it: when (performance.now(), taken before parsing) and what. */
export interface Received {
  at: number;
  message: { type?: string; challenge?: { challenge_id?: string } } & Record<string, unknown>;
}

/**
 * A WebSocket client that records when messages arrive. `next(type)` waits for the next message of a type that
 * nobody has taken yet (one waiter per type at a time); other messages are counted and dropped.
 */
export class TimedSocket {
  readonly socket: WebSocket;
  readonly counts = new Map<string, number>();
  readonly #queued = new Map<string, Received[]>();
  readonly #waiters = new Map<string, { resolve(received: Received): void; timer: NodeJS.Timeout }>();
  /** Types kept for `next`; the others are only counted. */
  readonly #kept: Set<string>;
  closed = false;

  constructor(url: string, headers: Record<string, string>, kept: string[]) {
    this.#kept = new Set(kept);
    this.socket = new WebSocket(url, { headers, perMessageDeflate: false });
    this.socket.on('message', (data) => {
      const at = performance.now();
      const message = JSON.parse(String(data)) as Received['message'];
      const type = typeof message.type === 'string' ? message.type : '?';
      this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
      if (!this.#kept.has(type)) return;
      const waiter = this.#waiters.get(type);
      if (waiter) {
        this.#waiters.delete(type);
        clearTimeout(waiter.timer);
        waiter.resolve({ at, message });
      } else {
        const queue = this.#queued.get(type) ?? [];
        queue.push({ at, message });
        this.#queued.set(type, queue);
      }
    });
    this.socket.on('close', () => (this.closed = true));
    this.socket.on('error', () => {});
  }

  /** Resolves once the upgrade succeeded; rejects with the status of a refused one. */
  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === WebSocket.OPEN) return resolve();
      this.socket.once('open', () => resolve());
      this.socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: HTTP ${response.statusCode}`)));
      this.socket.once('error', reject);
    });
  }

  /** The next message of `type`, in arrival order, or an error after `timeoutMs`. */
  next(type: string, timeoutMs = 30_000): Promise<Received> {
    const queue = this.#queued.get(type);
    const first = queue?.shift();
    if (first) return Promise.resolve(first);
    if (this.#waiters.has(type)) return Promise.reject(new Error(`already waiting for a "${type}" message`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(type);
        reject(new Error(`no "${type}" message within ${timeoutMs} ms (counts so far: ${JSON.stringify([...this.counts])})`));
      }, timeoutMs);
      this.#waiters.set(type, { resolve, timer });
    });
  }

  /** Stops waiting for `type` (the promise of `next` then never settles): after a request that failed, say. */
  forget(type: string): void {
    const waiter = this.#waiters.get(type);
    if (!waiter) return;
    clearTimeout(waiter.timer);
    this.#waiters.delete(type);
  }

  /** Messages of kept types that arrived while nobody waited (they should be none). */
  unclaimed(): number {
    return [...this.#queued.values()].reduce((total, queue) => total + queue.length, 0);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
      setTimeout(() => {
        this.socket.terminate();
        resolve();
      }, 5_000).unref();
    });
  }
}

/** Opens the device's stream and waits for `ready`. */
export async function openDeviceStream(origin: string, device: BenchDevice): Promise<TimedSocket> {
  const path = '/v1/device/stream';
  const stream = new TimedSocket(origin.replace(/^http/, 'ws') + path, { authorization: await deviceAuthorization(device, 'GET', path) }, [
    'ready',
    'challenge',
  ]);
  await stream.opened();
  await stream.next('ready', 60_000);
  return stream;
}

/** Runs `work` over `items` with at most `concurrency` at a time. */
export async function eachLimited<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loop = async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, () => loop()));
}
