import WebSocket from 'ws';
import type { DeviceStreamMessage } from '@tessera/contracts';
import type { PushDevice } from './push-device.ts';

export interface StreamClient {
  messages: DeviceStreamMessage[];
  /** The first message (already received or still to come) that matches, else an error after `timeoutMs`. */
  next<T extends DeviceStreamMessage['type']>(
    type: T,
    match?: (message: Extract<DeviceStreamMessage, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<DeviceStreamMessage, { type: T }>>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
  /** Stops (and starts again) reading from the connection, as a stalled device would. */
  pause(): void;
  resume(): void;
}

/**
 * Opens a device's stream as an authenticator does, and waits for `ready`; `authorization`: a request token made
 * beforehand (else a fresh one).
 */
export async function openDeviceStream(baseUrl: string, device: PushDevice, options: { authorization?: string } = {}): Promise<StreamClient> {
  const path = '/v1/device/stream';
  const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + path, {
    headers: { authorization: options.authorization ?? (await device.authorization('GET', path)) },
  });
  const messages: DeviceStreamMessage[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as DeviceStreamMessage);
    for (const waiter of waiters) waiter();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const stream: StreamClient = {
    messages,
    closed,
    close: () => socket.close(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    next(type, match = () => true, timeoutMs = 5_000) {
      type Wanted = Extract<DeviceStreamMessage, { type: typeof type }>;
      const find = () => messages.find((message): message is Wanted => message.type === type && match(message as Wanted));
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = find();
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no "${type}" message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });
  await stream.next('ready');
  return stream;
}
