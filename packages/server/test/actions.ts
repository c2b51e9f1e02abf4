import { expect } from 'vitest';
import type { Client } from './http.ts';

let counter = 0;

export function newUserId(prefix = 'actor'): string {
  return `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Sets an action's rules with the app's own credentials, expecting 200. */
export async function putRules(api: Client, appId: string, action: string, body: Record<string, unknown>): Promise<void> {
  const reply = await api.call('PUT', `/v1/apps/${appId}/actions/${action}/rules`, { body });
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
}

/** Tracks an action, expecting 200; answers the body. */
export async function track(api: Client, userId: string, action: string, body: Record<string, unknown> = {}) {
  const reply = await api.post(`/v1/users/${encodeURIComponent(userId)}/actions/${action}`, body);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as { state: string; idempotency_key: string; token: string; url: string; enrolled_factors: string[] };
}

/** The hosted page's path and query (the server's public URL is not the test server's address). */
export function hostedPath(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}
