/** The longest wait between two reconnection attempts, before its spread. */
export const maxRetryDelayMs = 15_000;

/**
 * How long the widget waits before reconnection attempt `attempt` (0 first): doubling from 0.5 s up to 15 s, spread at
 * random over ±50 %, so that the browsers of a restarted server do not all come back in the same instant.
 */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  return Math.min(maxRetryDelayMs, 500 * 2 ** attempt) * (0.5 + random());
}
