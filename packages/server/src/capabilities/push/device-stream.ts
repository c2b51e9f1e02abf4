import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { WebSocket } from 'ws';
import type { DeviceStreamMessage } from '@tessera/contracts';
import type { BusMessage, RealtimeBus } from '../../platform/bus/bus.ts';
import { errorResponses } from '../../platform/http/openapi.ts';
import { releaseUpgrade, upgradeRequired } from '../../platform/http/websocket-release.ts';
import { callingDevice } from '../devices/device-guard.ts';
import type { DeviceRecord } from '../devices/store.ts';
import type { PushChallenges } from './service.ts';
import { deviceTopic, userDevicesTopic } from './topics.ts';

/** A socket that did not answer the last ping within this time is dropped (its device reconnects). */
const heartbeatMs = 30_000;
/**
 * A socket with more than this much unsent data is not reading: it is dropped before what it is sent piles up in
 * memory. Its device, reconnecting, is sent what is still waiting for it, from the database.
 */
const maxBufferedBytes = 256 * 1024;
/**
 * Close codes: the device was removed while connected; the device sent something (the stream is one-way); the bus
 * lost messages (1012, "service restart": reconnect, and the waiting challenges come again).
 */
export const closeCodes = { deviceRemoved: 4401, unexpectedMessage: 4400, resync: 1012 } as const;

interface Tracked {
  socket: WebSocket;
  alive: boolean;
  /** Live messages that arrived before the waiting challenges were sent; null once they were. */
  backlog: BusMessage[] | null;
}

function send(socket: WebSocket, message: DeviceStreamMessage | BusMessage): void {
  if (socket.readyState !== socket.OPEN) return;
  if (socket.bufferedAmount > maxBufferedBytes) socket.terminate();
  else socket.send(JSON.stringify(message));
}

/**
 * `GET /v1/device/stream`: a WebSocket on which a device hears, as JSON messages, `ready`, then the
 * challenges waiting for it (the pending ones first), then new challenges, their endings and
 * notifications as they happen, from any instance (through the bus). It is authenticated by the device
 * guard before the upgrade. Per socket the server keeps two bus subscriptions and this small record;
 * one timer pings all sockets.
 */
export function deviceStreamRoute(
  app: FastifyInstance,
  deps: { push: PushChallenges; bus: RealtimeBus; deviceGuard: onRequestAsyncHookHandler },
): void {
  const { push, bus, deviceGuard } = deps;
  const sockets = new Set<Tracked>();
  const heartbeat = setInterval(() => {
    for (const tracked of sockets) {
      if (!tracked.alive || tracked.socket.bufferedAmount > maxBufferedBytes) {
        tracked.socket.terminate();
        continue;
      }
      tracked.alive = false;
      tracked.socket.ping();
    }
  }, heartbeatMs).unref();
  const onSocketError = (error: Error) => app.log.debug({ err: error }, 'device stream socket error');
  // A gap in the bus (Redis reconnected) may have lost challenges or endings meant for these sockets: each device
  // reconnects and is sent what is waiting for it, from the database.
  const leaveGaps = bus.onGap(() => {
    for (const tracked of sockets) tracked.socket.close(closeCodes.resync, 'reconnect to catch up');
  });
  app.addHook('onClose', async () => {
    clearInterval(heartbeat);
    leaveGaps();
    for (const tracked of sockets) tracked.socket.close(1001, 'server shutting down');
  });

  app.route({
    method: 'GET',
    url: '/v1/device/stream',
    // Only the upgrade is authenticated: a plain GET gets its 426 without using up the request token's jti.
    onRequest: async function (request, reply) {
      if (request.ws) await deviceGuard.call(this, request, reply);
    },
    handler: upgradeRequired,
    schema: {
      tags: ['devices'],
      summary: 'The device’s live stream (WebSocket)',
      description:
        'Upgrade to a WebSocket, authenticated like every device call (`Authorization: Device <JWT>` for GET ' +
        '/v1/device/stream). Messages (JSON): {type:"ready", device_id}; {type:"challenge", challenge} for each challenge ' +
        'waiting for an answer, then for each new one; {type:"challenge_ended", challenge_id, status}; {type:"notification", ' +
        'notification:{kind:"login", app_id, app_name, at, …}}. The server pings every 30 s. Close code 4401: the device was removed; ' +
        '1012: reconnect (the server may have missed messages meant for this stream, and sends what is waiting again). ' +
        'A request without the upgrade: 426 upgrade_required; a malformed upgrade (Sec-WebSocket-Key or -Version): 400.',
      response: errorResponses(400, 401, 403, 426),
    },
    wsHandler: (socket, request) => {
      const device = callingDevice(request);
      releaseUpgrade(socket, request, onSocketError);
      const tracked: Tracked = { socket, alive: true, backlog: [] };
      sockets.add(tracked);
      // The closures below keep ids only: an idle socket should not hold the request or the device record.
      const topics = [userDevicesTopic(device.app_id, device.user_id), deviceTopic(device.id)];
      const unsubscribes = topics.map((topic) =>
        bus.subscribe(topic, (message) => {
          if (message.type === 'device_removed') socket.close(closeCodes.deviceRemoved, 'device removed');
          else if (tracked.backlog) tracked.backlog.push(message);
          else send(socket, message);
        }),
      );
      socket.on('pong', () => (tracked.alive = true));
      socket.on('message', () => socket.close(closeCodes.unexpectedMessage, 'this stream only sends'));
      socket.on('close', () => {
        sockets.delete(tracked);
        for (const unsubscribe of unsubscribes) unsubscribe();
      });
      sendWaiting(tracked, device, topics).catch((error: unknown) => {
        app.log.warn({ err: error }, 'device stream could not start');
        socket.close(1011, 'try again');
      });
    },
  });

  /** `ready`, the challenges waiting for the device, then what arrived meanwhile (without repeats). */
  async function sendWaiting(tracked: Tracked, device: DeviceRecord, topics: string[]): Promise<void> {
    await Promise.all(topics.map((topic) => bus.subscribed(topic)));
    const waiting = await push.listForDevice(device);
    send(tracked.socket, { type: 'ready', device_id: device.id });
    const sent = new Set<string>();
    for (const challenge of waiting) {
      sent.add(challenge.challenge_id);
      send(tracked.socket, { type: 'challenge', challenge });
    }
    for (const message of tracked.backlog ?? []) {
      const challengeId = (message.challenge as { challenge_id?: string } | undefined)?.challenge_id;
      if (message.type !== 'challenge' || !challengeId || !sent.has(challengeId)) send(tracked.socket, message);
    }
    tracked.backlog = null;
  }
}
