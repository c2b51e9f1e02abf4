import WebSocket from 'ws';
import type { DeviceStreamMessage } from '@tessera/contracts';
import { deviceAuthorization } from './device-client.ts';
import type { Registration } from './identity.ts';

const streamPath = '/v1/device/stream';
/** The server closes with this code when the device was removed: reconnecting cannot help. */
const deviceRemoved = 4401;
/** A server that accepted the connection but has not upgraded it by then counts as unreachable (and is retried). */
const handshakeTimeoutMs = 10_000;

export interface StreamEvents {
  message(message: DeviceStreamMessage): void;
  /** The connection dropped; it is tried again after `retryInMs`. */
  dropped(reason: string, retryInMs: number): void;
  /**
   * The server refuses this device's stream (401, with its reason): the stream stops. `deviceGone` when the
   * server says the device was removed (or never existed), rather than, say, that the clock is off.
   */
  removed(reason: string, deviceGone: boolean): void;
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
    socket = new WebSocket(url, {
      headers: { authorization: await deviceAuthorization(registration, 'GET', streamPath) },
      handshakeTimeout: handshakeTimeoutMs,
    });
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
        const refusal = refusalOf(body);
        events.removed(refusal?.message ?? why, refusal?.reason === 'unknown_device');
        socket?.terminate();
      });
    });
    socket.on('error', (error) => (why = error.message));
    socket.on('close', (code) => {
      if (code === deviceRemoved) {
        stopped = true;
        events.removed('the device was removed', true);
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

/** A 401 in the documented format, `{"error":{"code","message","details":{"reason"}}}`; null for anything else. */
function refusalOf(body: string): { message: string; reason: unknown } | null {
  try {
    const error = (JSON.parse(body) as { error?: { message?: unknown; details?: { reason?: unknown } } }).error;
    return typeof error?.message === 'string' ? { message: error.message, reason: error.details?.reason } : null;
  } catch {
    return null;
  }
}
