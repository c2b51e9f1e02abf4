import { homedir } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { text } from 'node:stream/consumers';
import packageJson from '../package.json' with { type: 'json' };
import { PROGRAM } from './command.ts';
import type { Command, CommandContext } from './command.ts';
import { addCommand } from './commands/add.ts';
import { codeCommand } from './commands/code.ts';
import { approveCommand, denyCommand } from './commands/answer.ts';
import { initCommand } from './commands/init.ts';
import { listenCommand } from './commands/listen.ts';
import { registerCommand } from './commands/register.ts';
import { listCommand } from './commands/list.ts';
import { profileCommand } from './commands/profile.ts';
import { scanCommand } from './commands/scan.ts';
import { AuthenticatorError } from './errors.ts';
import { resolveStoreDirectory } from './store-location.ts';
import { printable } from './terminal-text.ts';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  addCommand,
  listCommand,
  codeCommand,
  initCommand,
  registerCommand,
  listenCommand,
  approveCommand,
  denyCommand,
  profileCommand,
  scanCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: ${PROGRAM} <command> [options]

The Tessera reference authenticator.

Commands:
${lines.join('\n')}

Options for every command:
  --json       machine-readable output: JSON objects, one per line (errors as {"error": {"code", "message"}} on stderr)
  -h, --help   help for the command

The store is $TESSERA_AUTHENTICATOR_HOME/store.json, else
$XDG_CONFIG_HOME/tessera-authenticator/store.json, else ~/.config/tessera-authenticator/store.json.
Run '${PROGRAM} <command> --help' for a command's options and examples.
`;
}

/** Runs one command line; returns the exit status (0 ok, 1 refused or failed, 2 not understood, 130 cancelled). */
export async function main(argv: readonly string[], context: CommandContext = processContext()): Promise<number> {
  const args = [...argv];
  const json = optionTokens(args).includes('--json');
  try {
    const [first, ...rest] = args;
    if (first === undefined) {
      context.stderr.write(overview());
      return 2;
    }
    if (first === '--help' || first === '-h') {
      context.stdout.write(overview());
      return 0;
    }
    if (first === '--version') {
      context.stdout.write(`${packageJson.version}\n`);
      return 0;
    }
    if (first === 'help') {
      const topic = rest[0];
      context.stdout.write(topic === undefined ? overview() : findCommand(topic).help);
      return 0;
    }
    const command = findCommand(first);
    const tokens = optionTokens(rest);
    if (tokens.includes('--help') || tokens.includes('-h')) {
      context.stdout.write(command.help);
      return 0;
    }
    await command.run(rest, context);
    return 0;
  } catch (error) {
    return reportError(error, json, context);
  }
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    const known = COMMANDS.map((candidate) => candidate.name).join(', ');
    throw new AuthenticatorError('unknown_command', `Unknown command "${name}"; the commands are: ${known}. See ${PROGRAM} --help.`);
  }
  return command;
}

/** The arguments before `--`, after which everything is a positional argument. */
function optionTokens(args: readonly string[]): readonly string[] {
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

function reportError(error: unknown, json: boolean, context: CommandContext): number {
  const known = error instanceof AuthenticatorError;
  const code = known ? error.code : 'internal_error';
  // An unexpected fault keeps its stack for a bug report; a refused input is explained in one sentence.
  const message = known ? error.message : `Unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  if (json) {
    context.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  } else {
    // A refusal may quote the server or a QR code: it is shown on one line, its control characters escaped.
    context.stderr.write(`${PROGRAM}: ${known ? printable(message) : message}\n`);
  }
  return known ? error.exitCode : 1;
}

export function processContext(): CommandContext {
  return {
    storeDirectory: resolveStoreDirectory(process.env, homedir()),
    cwd: process.cwd(),
    now: () => new Date(),
    readStdin,
    ...(process.stdin.isTTY ? { prompt } : {}),
    stdout: process.stdout,
    stderr: process.stderr,
  };
}

async function prompt(question: string, signal?: AbortSignal): Promise<string> {
  const reader = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await reader.question(question, signal ? { signal } : {});
  } catch (error) {
    // readline rejects with an AbortError on Ctrl-C or Ctrl-D: the person chose not to answer, no fault to report.
    if (!(error instanceof Error && error.name === 'AbortError')) throw error;
    process.stderr.write('\n');
    throw new AuthenticatorError('cancelled', 'Cancelled.', { cause: error });
  } finally {
    reader.close();
  }
}

/** Standard input to its end; at a terminal, one line after a prompt, so nobody has to know about Ctrl-D. */
async function readStdin(): Promise<string> {
  return process.stdin.isTTY ? prompt('otpauth URI: ') : text(process.stdin);
}
