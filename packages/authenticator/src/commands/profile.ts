import { profileFields, type Profile } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { readStore, updateStore } from '../store.ts';

const options = {
  'first-name': 'first_name',
  'last-name': 'last_name',
  email: 'email',
  picture: 'picture',
} as const satisfies Record<string, (typeof profileFields)[number]>;

export const profileCommand: Command = {
  name: 'profile',
  summary: 'set the profile that QR logins may share (profile set …)',
  help: `Usage: tessera-authenticator profile set --first-name NAME --last-name NAME --email EMAIL [--picture URL] [--json]
       tessera-authenticator profile show [--json]

The profile belongs to this authenticator's identity. At a QR login the app asks for some of its fields;
scan shows which, and only the fields you consent to are sent, encrypted for that one login.
set replaces the whole profile.

Options:
  --first-name NAME, --last-name NAME, --email EMAIL   required with set
  --picture URL                                        an https URL of a picture (optional)
  --json                                               print the profile as JSON
  -h, --help

Example:
  tessera-authenticator profile set --first-name Ada --last-name Lovelace --email ada@example.com
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('profile', {
      args: argv,
      options: {
        ...COMMON_OPTIONS,
        'first-name': { type: 'string' },
        'last-name': { type: 'string' },
        email: { type: 'string' },
        picture: { type: 'string' },
      },
      allowPositionals: true,
      strict: true,
    });
    const [action = ''] = expectPositionals('profile', positionals, 1, 1);
    if (action === 'show') {
      const { profile } = await readStore(context.storeDirectory);
      if (values.json === true) writeJson(context, profile ?? {});
      else context.stdout.write(profile ? describe(profile) : 'No profile yet; set one with: tessera-authenticator profile set …\n');
      return;
    }
    if (action !== 'set') throw new AuthenticatorError('invalid_arguments', 'profile: the action is "set" or "show"; see tessera-authenticator profile --help.');
    const profile: Profile = {};
    for (const [option, field] of Object.entries(options)) {
      const value = values[option as keyof typeof options]?.trim();
      if (value === undefined) {
        if (field !== 'picture') throw new AuthenticatorError('invalid_arguments', `profile set: --${option} is required.`);
        continue;
      }
      profile[field] = check(option, value);
    }
    await updateStore(context.storeDirectory, (contents) => ({ contents: { ...contents, profile }, result: null }));
    if (values.json === true) writeJson(context, profile);
    else context.stdout.write(`Profile saved.\n${describe(profile)}`);
  },
};

function check(option: string, value: string): string {
  const max = option === 'picture' ? 2048 : option === 'email' ? 320 : 100;
  if (value === '' || value.length > max) throw new AuthenticatorError('invalid_arguments', `profile set: --${option} must be 1 to ${max} characters.`);
  if (option === 'email' && !/^[^\s@]+@[^\s@]+$/.test(value)) throw new AuthenticatorError('invalid_arguments', 'profile set: --email is not an email address.');
  if (option === 'picture' && !/^https?:\/\/\S+$/.test(value)) throw new AuthenticatorError('invalid_arguments', 'profile set: --picture must be an http(s) URL.');
  return value;
}

function describe(profile: Profile): string {
  return profileFields
    .filter((field) => profile[field] !== undefined)
    .map((field) => `  ${field.padEnd(10)}  ${profile[field]}\n`)
    .join('');
}
