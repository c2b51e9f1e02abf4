import type { DeviceChallenge, DeviceStreamMessage } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { keepStreamOpen } from '../device-stream.ts';
import { AuthenticatorError } from '../errors.ts';
import type { Registration } from '../identity.ts';
import { askNumber, describeChallenge, sendAnswer, type AnswerChoice } from '../push-answer.ts';
import { forgetRegistrations, readStore } from '../store.ts';
import { printable } from '../terminal-text.ts';

export const listenCommand: Command = {
  name: 'listen',
  summary: 'show push challenges as they arrive (and answer them at a terminal)',
  help: `Usage: tessera-authenticator listen [--json]

Connects to the server of every registration and prints a line with "listening" once every stream
has connected or failed its first try (and one at least has connected), then one line per challenge
(the ones already waiting first), each with its challenge_id, and a line when a challenge ends or a
notification arrives (e.g. that an approval signed someone in). A server that cannot be reached hides
no other: it gets a "dropped" line, is retried, and gets a "connected" line once it answers.
At a terminal, it asks approve, deny or fraud for each challenge (and the number, with number
matching); Ctrl-C or Ctrl-D at that question leaves the challenge unanswered and stops (exit
status 130). With --json, or when its input is not a terminal, it only prints: answer with
approve/deny. It reconnects after a network drop; Ctrl-C stops it. A registration whose device the
server removed is forgotten (removed from the store, said once in its "removed" line). Once the
server refuses the stream of every registration, it exits with status 1.

Options:
  --json    one JSON object per line: {"type":"listening"|"challenge"|"challenge_ended"|"notification"|"dropped"|"connected"|"removed", …}
  -h, --help

Example:
  tessera-authenticator listen --json | while read -r line; do …; done
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('listen', { args: argv, options: COMMON_OPTIONS, allowPositionals: true, strict: true });
    expectPositionals('listen', positionals, 0, 0);
    const { registrations } = await readStore(context.storeDirectory);
    if (registrations.length === 0) {
      throw new AuthenticatorError('no_registrations', 'This authenticator is not registered with any app yet: run register first.');
    }
    await listen(registrations, context, values.json === true);
  },
};

type StreamState = 'connecting' | 'connected' | 'unreachable' | 'removed';

/** Runs until interrupted, until a question is cancelled (130), or until the server refused every registration's stream (1). */
async function listen(registrations: readonly Registration[], context: CommandContext, json: boolean): Promise<void> {
  // A question still open when listen stops (SIGTERM) is withdrawn: it would keep the process alive.
  const stopAsking = new AbortController();
  const ask = json ? undefined : context.prompt;
  const prompt = ask && ((question: string) => ask(question, stopAsking.signal));
  // What a server sends is escaped, so that no app can fake a line of this output or of the question below it.
  const print = (line: string, object: Record<string, unknown>) => context.stdout.write(json ? `${JSON.stringify(object)}\n` : `${printable(line)}\n`);
  const states = new Map<Registration, StreamState>(registrations.map((registration) => [registration, 'connecting']));
  // Until "listening" is printed, what the connected streams send waits, so that it comes first.
  let held: Array<() => void> | null = [];
  let open = registrations.length;
  const forgetting: Array<Promise<void>> = [];
  let failure: unknown = null;
  let asked: Promise<void> = Promise.resolve();
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  // Once no stream is still on its first try, and one is connected: one server that is down must not hide the others.
  const announceWhenSettled = () => {
    const all = [...states.values()];
    if (held === null || all.includes('connecting') || !all.includes('connected')) return;
    const connected = registrations.filter((registration) => states.get(registration) === 'connected');
    const notYet = registrations.filter((registration) => states.get(registration) === 'unreachable');
    print(
      `listening for ${connected.length} registration(s): ${connected.map((r) => r.app_name).join(', ')}` +
        (notYet.length > 0 ? `; not connected yet: ${notYet.map((r) => `${r.app_name} (${r.server})`).join(', ')}` : ''),
      { type: 'listening', devices: connected.map((r) => ({ device_id: r.device_id, app_name: r.app_name, user_id: r.user_id })) },
    );
    for (const show of held) show();
    held = null;
  };

  const closers = registrations.map((registration) =>
    keepStreamOpen(registration, {
      message(message: DeviceStreamMessage) {
        if (message.type === 'ready') {
          states.set(registration, 'connected');
          if (held) announceWhenSettled();
          else print(`connected to ${registration.server} (${registration.app_name})`, { type: 'connected', device_id: registration.device_id });
          return;
        }
        const show = () => {
          if (message.type === 'challenge') {
            print(`challenge ${describeChallenge(message.challenge)}`, { type: 'challenge', device_id: registration.device_id, ...message.challenge });
            if (prompt) {
              asked = asked
                .then(() => (failure === null ? decide(prompt, registration, message.challenge, context) : undefined))
                .catch((error: unknown) => {
                  failure = error;
                  finish();
                });
            }
          } else if (message.type === 'challenge_ended') {
            print(`ended ${message.challenge_id}: ${message.status}`, { type: 'challenge_ended', device_id: registration.device_id, challenge_id: message.challenge_id, status: message.status });
          } else {
            const { notification } = message;
            print(`notification: your approval signed in to ${notification.app_name} at ${notification.at}`, { type: 'notification', device_id: registration.device_id, ...notification });
          }
        };
        if (held) held.push(show);
        else show();
      },
      dropped(reason, retryInMs) {
        states.set(registration, 'unreachable');
        print(`disconnected from ${registration.server} (${reason}); retrying in ${Math.round(retryInMs / 1000)} s`, { type: 'dropped', device_id: registration.device_id, reason, retry_in_ms: retryInMs });
        announceWhenSettled();
      },
      removed(reason, deviceGone) {
        states.set(registration, 'removed');
        // Kept, it would be refused again at every listen: the server said the device is gone for good.
        if (deviceGone) forgetting.push(forgetRegistrations(context.storeDirectory, [registration.device_id]).catch((error: unknown) => void (failure ??= error)));
        print(
          `the server refused the stream of device ${registration.device_id} (${registration.app_name}): ${reason}` +
            (deviceGone ? '; this registration is forgotten' : ''),
          { type: 'removed', device_id: registration.device_id, reason, forgotten: deviceGone },
        );
        announceWhenSettled();
        if (--open === 0) finish();
      },
    }),
  );
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await finished;
  stopAsking.abort();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  for (const close of closers) close();
  await Promise.all(forgetting);
  if (failure !== null) throw failure;
  if (open === 0) throw new AuthenticatorError('server_refused', 'The server refused every device stream of this authenticator: nothing is left to listen to.');
}

/** At a terminal: approve, deny or report fraud, and the number when it must be matched. */
async function decide(
  prompt: (question: string) => Promise<string>,
  registration: Registration,
  challenge: DeviceChallenge,
  context: CommandContext,
): Promise<void> {
  let choice: AnswerChoice;
  try {
    const answer = (await prompt(printable(`Approve ${challenge.challenge_id} from ${challenge.app.display_name}? [y]es / [n]o / [f]raud: `))).trim().toLowerCase();
    choice = answer.startsWith('y')
      ? { decision: 'approve', ...(challenge.number_choices ? { number: await askNumber(prompt, context, challenge.number_choices) } : {}) }
      : { decision: 'deny', fraud: answer.startsWith('f') };
  } catch (error) {
    if (!(error instanceof AuthenticatorError && error.code === 'cancelled')) throw error;
    throw new AuthenticatorError('cancelled', `Cancelled: ${challenge.challenge_id} was left unanswered; stopped listening.`, { cause: error });
  }
  try {
    const result = await sendAnswer({ registration, challenge }, choice);
    context.stdout.write(`${printable(`${challenge.challenge_id} is now ${result.status}.`)}\n`);
  } catch (error) {
    context.stdout.write(`${printable(`Could not answer ${challenge.challenge_id}: ${(error as Error).message}`)}\n`);
  }
}
