// Test users with an active TOTP factor, and the codes they may send: a code is accepted once per factor.
//
// The server accepts a code for a step within ±1 of its own current step and newer than the last step it
// accepted for the factor (it checks its step, then the one before, then the one after, and takes the
// first whose code matches). So at step C a user can verify at most with C-1, C and C+1, in that order,
// and gets one new step every 30 s. This module tracks each user's last accepted step, picks the lowest
// step still usable when the code is sent, and hands a user to one round at a time.
import { setTimeout as sleep } from 'node:timers/promises';
import { HOTP, Secret } from 'otpauth';
import type { Pool } from 'undici';

/** The server's defaults for an imported secret: SHA1, 6 digits, 30 s. */
export const periodMs = 30_000;
const digits = 6;

export const stepAt = (ms: number): number => Math.floor(ms / periodMs);

export interface TotpUser {
  userId: string;
  secret: Secret;
  /** The last step the server accepted for the factor (the import's, then each verify's). */
  lastStep: number;
  /** Codes for steps C-1 … C+2 around `codesStep` = C, computed once per step. */
  codesStep: number;
  codes: string[];
}

export interface PickedCode {
  step: number;
  code: string;
}

/**
 * Users taken in turn (FIFO), each by one round at a time. A user who has used step C+1 waits for the next
 * step ("parked"); when no user can verify, `take` waits for the next step and counts it as starvation.
 */
export class TotpUserPool {
  readonly #ready: TotpUser[] = [];
  #head = 0;
  #parked: TotpUser[] = [];
  #parkedAt = -1;
  #all: TotpUser[] = [];
  /** Times `take` found nobody able to verify and waited for the next step, and for how long in all. */
  starved = { waits: 0, ms: 0 };

  /**
   * @param marginMs within this much of the end of a step, C-1 is no longer used: the server may be at
   *   C+1 by the time it checks the code, and then only C, C+1 and C+2 are accepted.
   */
  constructor(readonly marginMs = 2_000) {}

  get size(): number {
    return this.#all.length;
  }

  add(user: TotpUser): void {
    this.#all.push(user);
    this.#ready.push(user);
  }

  /** A user who can verify now, out of the pool until `giveBack`. */
  async take(): Promise<TotpUser> {
    for (;;) {
      const now = Date.now();
      const step = stepAt(now);
      if (step > this.#parkedAt && this.#parked.length > 0) {
        this.#ready.push(...this.#parked);
        this.#parked = [];
      }
      while (this.#head < this.#ready.length) {
        const user = this.#ready[this.#head++] as TotpUser;
        if (this.#head > 4096 && this.#head * 2 > this.#ready.length) {
          this.#ready.splice(0, this.#head);
          this.#head = 0;
        }
        if (pickCode(user, now, this.marginMs) !== null) return user;
        this.#parked.push(user);
        this.#parkedAt = step;
      }
      const wait = (step + 1) * periodMs - now + 5;
      this.starved.waits++;
      this.starved.ms += wait;
      await sleep(wait);
    }
  }

  giveBack(user: TotpUser): void {
    this.#ready.push(user);
  }

  /** The code to send now for `user`, or null when none is usable before the next step. */
  pick(user: TotpUser, now = Date.now()): PickedCode | null {
    return pickCode(user, now, this.marginMs);
  }

  /**
   * Verifies the users could still make now, counting for each only steps C and C+1 (C-1 may run out
   * before it is used): a lower bound of what the pool can give before the next step.
   */
  usesLeft(now = Date.now()): number {
    const step = stepAt(now);
    return this.#all.reduce((total, user) => total + Math.max(0, step + 1 - Math.max(user.lastStep + 1, step) + 1), 0);
  }
}

function codeFor(user: TotpUser, step: number): string {
  return HOTP.generate({ secret: user.secret, algorithm: 'SHA1', digits, counter: step });
}

/**
 * The lowest step in [max(last + 1, C - 1), C + 1] (C - 1 only while far from the end of step C) whose code
 * is unambiguous: equal to none of C - 1 … C + 2's other codes, so the server, whether it is at C or C + 1,
 * matches exactly that step (two steps share a code once in a million or so).
 */
function pickCode(user: TotpUser, now: number, marginMs: number): PickedCode | null {
  const current = stepAt(now);
  if (user.codesStep !== current) {
    user.codes = [-1, 0, 1, 2].map((offset) => codeFor(user, current + offset));
    user.codesStep = current;
  }
  let low = Math.max(user.lastStep + 1, current - 1);
  if (now > (current + 1) * periodMs - marginMs) low = Math.max(low, current);
  for (let step = low; step <= current + 1; step++) {
    const code = user.codes[step - current + 1] as string;
    if (user.codes.filter((other) => other === code).length === 1) return { step, code };
  }
  return null;
}

export interface EnrollOptions {
  pool: Pool;
  authorization: string;
  /** Prefix of the user ids (unique per run). */
  prefix: string;
  /** Index of the first user, so that a top-up continues the numbering. */
  first: number;
  count: number;
  concurrency: number;
  progress(message: string): void;
}

/**
 * Enrolls `count` users by importing a fresh 20-byte secret with a code for the lowest usable step
 * (`POST /v1/users/{user_id}/factors {type, secret, code}`, which creates the user and activates the
 * factor at that step); answers them, each with the step the server recorded.
 */
export async function enrollUsers(options: EnrollOptions): Promise<{ users: TotpUser[]; seconds: number }> {
  const users: TotpUser[] = [];
  const started = Date.now();
  let next = 0;
  let lastReport = started;
  // Wider than the rounds' margin: an enrolment can wait seconds behind the others on a slow machine (PGlite runs one
  // statement at a time), and a code for C-1 sent 2 s before the step ends was once checked after it (422).
  const marginMs = 6_000;

  async function loop(): Promise<void> {
    while (next < options.count) {
      const index = options.first + next++;
      const user: TotpUser = {
        userId: `${options.prefix}-${index}`,
        secret: new Secret({ size: 20 }),
        lastStep: -Infinity,
        codesStep: -1,
        codes: [],
      };
      const picked = pickCode(user, Date.now(), marginMs);
      if (picked === null) throw new Error(`no unambiguous code for a new secret (user ${user.userId})`);
      const response = await options.pool.request({
        method: 'POST',
        path: `/v1/users/${encodeURIComponent(user.userId)}/factors`,
        headers: { authorization: options.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'totp', secret: user.secret.base32, code: picked.code }),
      });
      const text = await response.body.text();
      if (response.statusCode !== 201 || !text.includes('"status":"active"')) {
        throw new Error(`enrolling ${user.userId}: HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
      }
      user.lastStep = picked.step;
      users.push(user);
      const now = Date.now();
      if (now - lastReport >= 3_000) {
        lastReport = now;
        const rate = users.length / ((now - started) / 1000);
        options.progress(`  enrolled ${users.length} / ${options.count} users (${rate.toFixed(0)}/s)`);
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, () => loop()));
  return { users, seconds: (Date.now() - started) / 1000 };
}
