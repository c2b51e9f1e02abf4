import type { DeviceChallenge } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { askNumber, locateChallenge, sendAnswer } from '../push-answer.ts';
import { printable } from '../terminal-text.ts';

export const approveCommand: Command = {
  name: 'approve',
  summary: 'approve a push challenge (signed with the device key)',
  help: `Usage: tessera-authenticator approve <challenge_id> [--number N] [--json]

Approves a push challenge, signing the decision with the key of the registration it is for.
With number matching, --number is the number the sign-in screen shows (asked for at a terminal;
Ctrl-C or Ctrl-D there cancels, exit status 130). A registration whose server cannot be reached is
skipped: the challenge may be another server's. A registration whose device the server removed is
forgotten (said on stderr).

Options:
  --number N   number matching: the number the app shows (one of the three offered)
  --json       print the challenge as the server now has it
  -h, --help

Example:
  tessera-authenticator approve chl_01jd… --number 42
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('approve', {
      args: argv,
      options: { ...COMMON_OPTIONS, number: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    const [challengeId = ''] = expectPositionals('approve', positionals, 1, 1);
    const picked = values.number === undefined ? undefined : Number(values.number);
    if (picked !== undefined && !Number.isInteger(picked)) throw new AuthenticatorError('invalid_arguments', 'approve: --number must be an integer.');
    const located = await locateChallenge(context, challengeId);
    const choices = located.challenge.number_choices;
    let number = picked;
    if (choices && number === undefined) {
      if (!context.prompt || values.json === true) {
        throw new AuthenticatorError('number_required', `This challenge needs --number: the number the sign-in screen shows (${choices.join(', ')}).`);
      }
      number = await askNumber(context.prompt, context, choices);
    }
    const answered = await sendAnswer(located, { decision: 'approve', ...(number !== undefined ? { number } : {}) });
    report(context, answered, values.json === true);
    if (answered.answer !== 'approve') {
      // The server took the wrong number as a denial: the approval asked for did not happen.
      throw new AuthenticatorError('server_refused', `The number ${number} is not the one the sign-in screen shows: the server denied the challenge.`);
    }
  },
};

export const denyCommand: Command = {
  name: 'deny',
  summary: 'deny a push challenge; --fraud if you did not start it',
  help: `Usage: tessera-authenticator deny <challenge_id> [--fraud] [--json]

Denies a push challenge, signing the decision with the key of the registration it is for. A registration
whose device the server removed is forgotten (said on stderr).

Options:
  --fraud   say you did not start this sign-in (the app is told)
  --json    print the challenge as the server now has it
  -h, --help

Example:
  tessera-authenticator deny chl_01jd… --fraud
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('deny', {
      args: argv,
      options: { ...COMMON_OPTIONS, fraud: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const [challengeId = ''] = expectPositionals('deny', positionals, 1, 1);
    const located = await locateChallenge(context, challengeId);
    report(context, await sendAnswer(located, { decision: 'deny', fraud: values.fraud === true }), values.json === true);
  },
};

function report(context: CommandContext, challenge: DeviceChallenge, json: boolean): void {
  if (json) writeJson(context, challenge);
  else context.stdout.write(`${printable(`${challenge.answer === 'approve' ? 'Approved' : 'Denied'} ${challenge.challenge_id} (${challenge.app.display_name}): the challenge is ${challenge.status}.`)}\n`);
}
