import { randomInt } from 'node:crypto';

/**
 * Number matching: the app shows `number` (10–99), the device offers it among three choices, so that
 * someone approving out of habit must look at the screen of the sign-in they started.
 */
export function drawNumbers(): { number: number; choices: number[] } {
  const number = randomInt(10, 100);
  const choices = new Set([number]);
  while (choices.size < 3) choices.add(randomInt(10, 100));
  const shuffled = [...choices];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
  }
  return { number, choices: shuffled };
}
