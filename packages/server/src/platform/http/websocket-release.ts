import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';
import { ApiError } from './api-error.ts';
import type { WebSocket } from 'ws';

/**
 * Lets go of the upgrade's request and reply, which @fastify/websocket keeps for the socket's whole life: its error
 * listener on the socket closes over both, and the ServerResponse it made for the upgrade stays assigned to the TCP
 * socket (and holds the IncomingMessage). An idle socket should cost the socket and its own state only (several KB
 * less each: bench/RESULTS.md, push-delivery). Call it first thing in a WebSocket route's handler; `onError`
 * replaces the plugin's listener (ws closes the socket after an error; its 'close' does the cleaning up).
 */
export function releaseUpgrade(socket: WebSocket, request: FastifyRequest, onError: (error: Error) => void): void {
  socket.removeAllListeners('error');
  socket.on('error', onError);
  const tcp = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  tcp._httpMessage?.detachSocket(tcp);
}

/** The HTTP answer of a WebSocket route to a request that does not ask for the upgrade (RFC 9110 §15.5.22). */
export async function upgradeRequired(): Promise<never> {
  throw new ApiError('upgrade_required', undefined, { headers: { upgrade: 'websocket', connection: 'Upgrade' } });
}
