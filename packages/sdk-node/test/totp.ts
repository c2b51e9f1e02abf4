import { randomBytes } from 'node:crypto';
import { oathtool } from '../../server/test/otp-tools.ts';

export { awayFromStepBoundary, oathtool, zbarimg } from '../../server/test/otp-tools.ts';

type TotpOptions = { algorithm?: string; digits?: number; period?: number };

/** A random Base32 secret (RFC 4648, no padding) of `bytes` bytes, as another service would have made. */
export function newBase32Secret(bytes = 20): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of randomBytes(bytes)) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

/** A well-formed code that is none of the codes the server accepts now (the current step ±1, and the next). */
export async function wrongCode(secret: string, options: TotpOptions = {}): Promise<string> {
  const digits = options.digits ?? 6;
  const valid = new Set(
    await Promise.all([-1, 0, 1, 2].map((offsetSteps) => oathtool(secret, { ...options, offsetSteps }))),
  );
  for (let n = 0; ; n++) {
    const candidate = String((Number([...valid][0]) + 1 + n * 7919) % 10 ** digits).padStart(digits, '0');
    if (!valid.has(candidate)) return candidate;
  }
}
