/**
 * A reason the server cannot start that the operator can fix: `npm start` prints its message as one line, naming
 * the setting to change, without a stack trace.
 */
export class StartupError extends Error {
  override name = 'StartupError';
}

/** A connection URL fit for a message: its password left out. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(not a URL)';
  }
}
