import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { AuthenticatorError } from './errors.ts';

export const PROGRAM = 'tessera-authenticator';

export interface TextSink {
  write(text: string): unknown;
}

/** Everything a command may touch, handed in so that tests can run commands in-process too. */
export interface CommandContext {
  /** Where the store lives, already resolved from the environment. */
  storeDirectory: string;
  cwd: string;
  now(): Date;
  readStdin(): Promise<string>;
  /**
   * Asks a person one question and answers their reply; absent when no terminal can answer. Ctrl-C or Ctrl-D
   * instead of a reply, or `signal` aborting, rejects with the AuthenticatorError `cancelled`.
   */
  prompt?(question: string, signal?: AbortSignal): Promise<string>;
  stdout: TextSink;
  stderr: TextSink;
}

export interface Command {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The whole `--help` text: usage, what it does, options, examples. */
  help: string;
  run(argv: string[], context: CommandContext): Promise<void>;
}

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `util.parseArgs` with strict checking, its errors turned into usage errors (exit status 2). */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS_')) {
      // Node's sentences are long and about its own API; name the option and point at the help instead.
      const option = /'([^']+)'/.exec(error.message)?.[1];
      const what =
        error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== undefined ? `unknown option ${option}` : error.message;
      throw new AuthenticatorError('invalid_arguments', `${command}: ${what}; see ${PROGRAM} ${command} --help.`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** The positional arguments, checked against how many the command takes. */
export function expectPositionals(command: string, positionals: string[], min: number, max: number): string[] {
  if (positionals.length < min) {
    throw new AuthenticatorError('invalid_arguments', `${command}: missing argument; see ${PROGRAM} ${command} --help.`);
  }
  if (positionals.length > max) {
    throw new AuthenticatorError(
      'invalid_arguments',
      `${command}: unexpected argument "${positionals[max] ?? ''}"; see ${PROGRAM} ${command} --help.`,
    );
  }
  return positionals;
}

/** One JSON value on one line, so that scripts can read the output line by line (as listen's). */
export function writeJson(context: CommandContext, value: unknown): void {
  context.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Columns padded to their widest cell, two spaces apart, trailing spaces trimmed. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
    .join('\n')
    .concat('\n');
}
