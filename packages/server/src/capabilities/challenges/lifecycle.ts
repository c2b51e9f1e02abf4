import type { Challenge } from '@tessera/contracts';
import type { RealtimeBus } from '../../platform/bus/bus.ts';
import type { Database } from '../../platform/database/database.ts';
import type { Outbox, OutboxEvent } from '../webhooks/outbox.ts';
import { ChallengeStore, toChallenge, type ChallengeRecord } from './store.ts';

const topic = (challengeId: string) => `challenge:${challengeId}`;

/**
 * What follows a challenge's change, whatever its kind (code or push): the event of an ending, in
 * the same transaction (outbox), and, after the commit, the wake-up of readers long-polling it and of
 * whoever else listens (the devices that show it).
 */
export class ChallengeLifecycle {
  readonly #endListeners: Array<(challenge: ChallengeRecord) => void> = [];
  readonly #store: ChallengeStore;

  constructor(
    private readonly db: Database,
    private readonly bus: RealtimeBus,
    private readonly outbox: Outbox,
  ) {
    this.#store = new ChallengeStore(db);
  }

  /** Expires one pending challenge past its expiry (a read or an answer found it so); null if it was not. */
  async expire(challengeId: string): Promise<ChallengeRecord | null> {
    const [expired] = await this.#store.expire({ id: challengeId, limit: 1, now: new Date() });
    if (expired) await this.ended(expired);
    return expired ?? null;
  }

  /** Called after the commit of every ending (verified, approved, denied, expired, failed). */
  onEnd(listener: (challenge: ChallengeRecord) => void): void {
    this.#endListeners.push(listener);
  }

  /**
   * The event of a challenge that ended, and the wake-up of readers waiting on it. A caller holding the app (cached)
   * may say it has no callback URL: the outbox statement, which would write nothing, is then left out.
   */
  async ended(challenge: ChallengeRecord, appHasCallback = true): Promise<void> {
    if (appHasCallback) await this.outbox.enqueue(challenge.app_id, `challenge.${challenge.status}`, toChallenge(challenge));
    this.#afterEnd(challenge);
  }

  /**
   * For an ending that one statement writes with its event (the fast verify): the event to write, or null
   * when the app takes no events (it has no callback URL).
   */
  eventOf(challenge: ChallengeRecord, appHasCallback: boolean): OutboxEvent | null {
    return appHasCallback ? this.outbox.event(`challenge.${challenge.status}`, toChallenge(challenge)) : null;
  }

  /** After that statement wrote the ending (and `event`, if any): the wake-ups `ended` gives. */
  endedByStatement(challenge: ChallengeRecord, event: OutboxEvent | null): void {
    if (event) this.outbox.written();
    this.#afterEnd(challenge);
  }

  #afterEnd(challenge: ChallengeRecord): void {
    this.announce(challenge);
    this.db.afterCommit(() => {
      for (const listener of this.#endListeners) listener(challenge);
    });
  }

  /**
   * Wakes the long-polls of a challenge that changed, once the change is committed. The message carries the
   * challenge as the API shows it, so that a long-poll answers an ending without reading it again.
   */
  announce(challenge: ChallengeRecord): void {
    const message = { challenge: toChallenge(challenge) };
    this.db.afterCommit(() => void this.bus.publish(topic(challenge.id), message).catch(() => {}));
  }

  /**
   * A wait for the next change of a challenge. Listen before reading: once `listening` resolves, no change
   * committed after the read can be missed (`cancel` when the wait is not needed). The wait resolves with the
   * changed challenge when the message carried it, else (a timeout, an abort, a gap in the bus) with null.
   */
  nextChange(
    challengeId: string,
    signal?: AbortSignal,
  ): { listening: Promise<void>; wait(timeoutMs: number): Promise<Challenge | null>; cancel(): void } {
    let wake = () => {};
    let changed: Challenge | null | undefined;
    const unsubscribe = this.bus.subscribe(topic(challengeId), (message) => {
      changed = (message.challenge as Challenge | undefined) ?? null;
      wake();
    });
    // A gap: the bus may have lost the message, so the reader reads again.
    const leaveGaps = this.bus.onGap(() => {
      changed ??= null;
      wake();
    });
    const onAbort = () => wake();
    signal?.addEventListener('abort', onAbort);
    const cancel = () => {
      unsubscribe();
      leaveGaps();
      signal?.removeEventListener('abort', onAbort);
    };
    return {
      listening: this.bus.subscribed(topic(challengeId)),
      cancel,
      wait: (timeoutMs) =>
        new Promise<Challenge | null>((resolve) => {
          const timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
          wake = () => {
            clearTimeout(timer);
            cancel();
            resolve(changed ?? null);
          };
          if (changed !== undefined || signal?.aborted) wake();
        }),
    };
  }
}
