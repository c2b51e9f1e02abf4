import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A TOTP code computed by oathtool (an independent implementation), for `offsetSteps` time steps
 * from now.
 */
export async function oathtool(
  secret: string,
  options: { algorithm?: string; digits?: number; period?: number; offsetSteps?: number } = {},
): Promise<string> {
  const period = options.period ?? 30;
  const at = new Date(Date.now() + (options.offsetSteps ?? 0) * period * 1000);
  const { stdout } = await run('oathtool', [
    `--totp=${options.algorithm ?? 'SHA1'}`,
    '--base32',
    `--digits=${options.digits ?? 6}`,
    `--time-step-size=${period}s`,
    `--now=${at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
    secret,
  ]);
  return stdout.trim();
}

/** Decodes a `data:image/png;base64,…` QR code with zbarimg (an independent decoder). */
export async function zbarimg(dataUrl: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-qr-'));
  try {
    const file = path.join(dir, 'qr.png');
    await writeFile(file, Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
    const { stdout } = await run('zbarimg', ['--raw', '-q', file]);
    return stdout.trim();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Seconds left in the current time step: tests wait for a fresh step when a step boundary is near. */
export async function awayFromStepBoundary(period = 30, marginSeconds = 3): Promise<void> {
  const intoStep = (Date.now() / 1000) % period;
  if (period - intoStep < marginSeconds) await new Promise((resolve) => setTimeout(resolve, (period - intoStep + 0.2) * 1000));
}
