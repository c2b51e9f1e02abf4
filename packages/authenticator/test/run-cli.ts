import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/tessera-authenticator.mjs', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Replaces the environment's store and home variables; `home` sets TESSERA_AUTHENTICATOR_HOME. */
  home?: string;
  /** Variables to set; `undefined` removes one. */
  env?: Record<string, string | undefined>;
  stdin?: string;
  cwd?: string;
}

/** Runs the command as a person would: `node bin/tessera-authenticator.mjs …` in a child process. */
export function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, TESSERA_AUTHENTICATOR_HOME: options.home, ...options.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete env[name];
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, cwd: options.cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** A long-running command (listen): its output lines as they come, and a way to stop it. */
export interface RunningCli {
  lines: string[];
  /** The first line (already printed or still to come) that matches. */
  line(match: RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  stop(): Promise<CliResult>;
}

export function startCli(args: readonly string[], options: RunOptions = {}): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, TESSERA_AUTHENTICATOR_HOME: options.home, ...options.env } as NodeJS.ProcessEnv,
    stdio: 'pipe',
  });
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const waiter of waiters) waiter();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  child.stdin.end();
  return {
    lines,
    line(match, timeoutMs = 10_000) {
      const test = typeof match === 'function' ? match : (line: string) => match.test(line);
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(test);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${String(match)} within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A command running at a terminal: everything it wrote (stdout and stderr alike), typing, and its end. */
export interface TerminalCli {
  output(): string;
  /** Resolves once the output, from the last thing typed on, matches. */
  waitFor(match: RegExp, timeoutMs?: number): Promise<void>;
  /** Types at the keyboard: text, or keys such as "\u0003" (Ctrl-C) and "\u0004" (Ctrl-D). */
  type(keys: string): void;
  /** Sends a signal to the command itself, as `kill` would (not a key press at its terminal). */
  kill(signal: NodeJS.Signals): void;
  exited: Promise<CliResult>;
  stop(): Promise<CliResult>;
}

/**
 * Runs the command as a person at a keyboard would: in a pseudo-terminal (util-linux `script`), so that its
 * standard input is a terminal and it prompts. Type only once the prompt shows: before it, the terminal is not
 * in raw mode and Ctrl-C would be a signal, not a key press.
 */
export function startCliAtTerminal(args: readonly string[], options: RunOptions = {}): TerminalCli {
  // exec: the command replaces the shell, so that it is the child of `script` that `kill` signals.
  const command = `exec ${[process.execPath, BIN, ...args].map((word) => `'${word.replaceAll("'", `'\\''`)}'`).join(' ')}`;
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    env: { ...process.env, TESSERA_AUTHENTICATOR_HOME: options.home, ...options.env } as NodeJS.ProcessEnv,
    cwd: options.cwd,
    stdio: 'pipe',
  });
  let output = '';
  let typedAt = 0;
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    for (const waiter of waiters) waiter();
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve) => child.on('close', (status) => resolve({ status, stdout: output, stderr })));
  return {
    output: () => output,
    waitFor(match, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!match.test(output.slice(typedAt))) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no output matching ${String(match)} within ${timeoutMs} ms; output: ${JSON.stringify(output)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    type(keys) {
      typedAt = output.length;
      child.stdin.write(keys);
    },
    kill(signal) {
      const pid = execFileSync('ps', ['-o', 'pid=', '--ppid', String(child.pid)], { encoding: 'utf8' }).trim();
      process.kill(Number(pid), signal);
    },
    exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}

/** A fresh temporary directory; remove it with the returned function. */
export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tessera-authenticator-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface OathtoolAccount {
  secret: string;
  algorithm: 'SHA1' | 'SHA256' | 'SHA512';
  digits: number;
  period: number;
}

/** The current code according to Debian's oathtool, an implementation independent of ours. */
export function oathtoolCode(account: OathtoolAccount): string {
  return execFileSync(
    'oathtool',
    [`--totp=${account.algorithm}`, '--base32', `--digits=${account.digits}`, `--time-step-size=${account.period}s`, account.secret],
    { encoding: 'utf8' },
  ).trim();
}

/**
 * Runs `probe` inside one TOTP step, so that two programs asked for "the current code" agree:
 * waits for the next step when fewer than 2 s are left, and tries again if the step changed meanwhile.
 */
export async function withinOneStep<T>(period: number, probe: () => Promise<T>): Promise<T> {
  const periodMs = period * 1000;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const leftMs = periodMs - (Date.now() % periodMs);
    if (leftMs < 2000) await sleep(leftMs + 50);
    const stepBefore = Math.floor(Date.now() / periodMs);
    const result = await probe();
    if (Math.floor(Date.now() / periodMs) === stepBefore) return result;
  }
  throw new Error('could not run the probe within one TOTP step');
}
