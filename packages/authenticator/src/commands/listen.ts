import type { DeviceChallenge, DeviceStreamMessage } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { keepStreamOpen } from '../device-stream.ts';
import { AuthenticatorError } from '../errors.ts';
import type { Registration } from '../identity.ts';
import { askNumber, describeChallenge, sendAnswer } from '../push-answer.ts';
import { readStore } from '../store.ts';

export const listenCommand: Command = {
  name: 'listen',
  summary: 'show push challenges as they arrive (and answer them at a terminal)',
  help: `Usage: tessera-authenticator listen [--json]

Connects to the server of every registration and prints a line with "listening" once connected,
then one line per challenge (the ones already waiting first), each with its challenge_id, and a line
when a challenge ends or a notification arrives (e.g. that an approval signed someone in).
At a terminal, it asks approve, deny or fraud for each challenge (and the number, with number
matching). With --json, or when its input is not a terminal, it only prints: answer with
approve/deny. It reconnects after a network drop; Ctrl-C stops it. Once the server refuses the
stream of every registration (the device was removed), it exits with status 1.

Options:
  --json    one JSON object per line: {"type":"listening"|"challenge"|"challenge_ended"|"notification"|"dropped"|"removed", …}
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

/** Runs until interrupted, or until the server refused every registration's stream (exit status 1). */
async function listen(registrations: readonly Registration[], context: CommandContext, json: boolean): Promise<void> {
  const prompt = json ? undefined : context.prompt;
  const print = (line: string, object: Record<string, unknown>) => context.stdout.write(json ? `${JSON.stringify(object)}\n` : `${line}\n`);
  // Until every stream is ready, what they send waits, so that "listening" comes first.
  let held: Array<() => void> | null = [];
  let notReady = registrations.length;
  let open = registrations.length;
  let asked: Promise<void> = Promise.resolve();
  let finish = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const closers = registrations.map((registration) => {
    let ready = false;
    const emit = (show: () => void) => (held ? held.push(show) : show());
    return keepStreamOpen(registration, {
      message(message: DeviceStreamMessage) {
        if (message.type === 'ready') {
          if (!ready && --notReady === 0) {
            print(`listening for ${registrations.length} registration(s): ${registrations.map((r) => r.app_name).join(', ')}`, {
              type: 'listening',
              devices: registrations.map((r) => ({ device_id: r.device_id, app_name: r.app_name, user_id: r.user_id })),
            });
            for (const show of held ?? []) show();
            held = null;
          }
          ready = true;
          return;
        }
        emit(() => {
          if (message.type === 'challenge') {
            print(`challenge ${describeChallenge(message.challenge)}`, { type: 'challenge', device_id: registration.device_id, ...message.challenge });
            if (prompt) asked = asked.then(() => decide(prompt, registration, message.challenge, context));
          } else if (message.type === 'challenge_ended') {
            print(`ended ${message.challenge_id}: ${message.status}`, { type: 'challenge_ended', device_id: registration.device_id, challenge_id: message.challenge_id, status: message.status });
          } else {
            const { notification } = message;
            print(`notification: your approval signed in to ${notification.app_name} at ${notification.at}`, { type: 'notification', device_id: registration.device_id, ...notification });
          }
        });
      },
      dropped(reason, retryInMs) {
        print(`disconnected from ${registration.server} (${reason}); retrying in ${Math.round(retryInMs / 1000)} s`, { type: 'dropped', device_id: registration.device_id, reason, retry_in_ms: retryInMs });
      },
      removed(reason) {
        print(`the server refused the stream of device ${registration.device_id} (${registration.app_name}): ${reason}`, {
          type: 'removed',
          device_id: registration.device_id,
          reason,
        });
        if (!ready && --notReady === 0 && held) {
          for (const show of held) show();
          held = null;
        }
        if (--open === 0) finish();
      },
    });
  });
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await finished;
  for (const close of closers) close();
  if (open === 0) throw new AuthenticatorError('server_refused', 'The server refused every device stream of this authenticator: nothing is left to listen to.');
}

/** At a terminal: approve, deny or report fraud, and the number when it must be matched. */
async function decide(
  prompt: (question: string) => Promise<string>,
  registration: Registration,
  challenge: DeviceChallenge,
  context: CommandContext,
): Promise<void> {
  const answer = (await prompt(`Approve ${challenge.challenge_id} from ${challenge.app.display_name}? [y]es / [n]o / [f]raud: `)).trim().toLowerCase();
  const choice =
    answer.startsWith('y')
      ? { decision: 'approve' as const, ...(challenge.number_choices ? { number: await askNumber(prompt, context, challenge.number_choices) } : {}) }
      : { decision: 'deny' as const, fraud: answer.startsWith('f') };
  try {
    const result = await sendAnswer({ registration, challenge }, choice);
    context.stdout.write(`${challenge.challenge_id} is now ${result.status}.\n`);
  } catch (error) {
    context.stdout.write(`Could not answer ${challenge.challenge_id}: ${(error as Error).message}\n`);
  }
}
