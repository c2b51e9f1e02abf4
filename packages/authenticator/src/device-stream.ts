import WebSocket from 'ws';
import type { DeviceStreamMessage } from '@tessera/contracts';
import { deviceAuthorization } from './device-client.ts';
import type { Registration } from './identity.ts';

const streamPath = '/v1/device/stream';
/** The server closes with this code when the device was removed: reconnecting cannot help. */
const deviceRemoved = 4401;

export interface StreamEvents {
  message(message: DeviceStreamMessage): void;
  /** The connection dropped; it is tried again after `retryInMs`. */
  dropped(reason: string, retryInMs: number): void;
  /** The server removed this device, or refuses its stream (401, with its reason): the stream stops. */
  removed(reason: string): void;
}

/**
 * Keeps one registration's stream open: connects with a freshly signed device token each time, and
 * reconnects after a drop with a growing delay (1 s doubling to 30 s, reset once connected), each one
 * spread at random over ±50 %: devices dropped together (the server restarting, or closing its streams
 * with 1012 after a gap in its bus) then come back spread out, not all in the same instant. Answers a
 * function that closes it for good.
 */
export function keepStreamOpen(registration: Registration, events: StreamEvents): () => void {
  let stopped = false;
  let socket: WebSocket | null = null;
  let delayMs = 1_000;
  let timer: NodeJS.Timeout | undefined;

  const connect = async () => {
    if (stopped) return;
    const url = registration.server.replace(/^http/, 'ws') + streamPath;
    socket = new WebSocket(url, { headers: { authorization: await deviceAuthorization(registration, 'GET', streamPath) } });
    let why = 'connection lost';
    socket.on('message', (data) => {
      delayMs = 1_000;
      events.message(JSON.parse(String(data)) as DeviceStreamMessage);
    });
    socket.on('unexpected-response', (_request, response) => {
      why = `the server answered HTTP ${response.statusCode}`;
      if (response.statusCode !== 401) return void socket?.terminate();
      // Refused for good (the device removed, or a device token it will not take): reconnecting cannot help.
      stopped = true;
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('close', () => {
        events.removed(errorMessageOf(body) ?? why);
        socket?.terminate();
      });
    });
    socket.on('error', (error) => (why = error.message));
    socket.on('close', (code) => {
      if (code === deviceRemoved) {
        stopped = true;
        events.removed('the device was removed');
      }
      if (stopped) return;
      const retryInMs = Math.round(delayMs * (0.5 + Math.random()));
      events.dropped(why, retryInMs);
      timer = setTimeout(() => void connect(), retryInMs);
      delayMs = Math.min(delayMs * 2, 30_000);
    });
  };
  void connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    socket?.close();
  };
}

/** The message of an error in the documented format, `{"error":{"code","message"}}`; null for anything else. */
function errorMessageOf(body: string): string | null {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message : null;
  } catch {
    return null;
  }
}
