import path from 'node:path';
import { addAccount } from '../add-account.ts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { looksLikeUri, parseOtpauthUri } from '../otpauth-uri.ts';
import { readQrImageFile } from '../qr-image.ts';
import { updateStore } from '../store.ts';
import { accountName, summarizeAccount, totpCode } from '../totp-account.ts';
import type { TotpParameters } from '../totp-account.ts';

export const addCommand: Command = {
  name: 'add',
  summary: 'add a TOTP account from an otpauth:// URI or a QR code image (PNG)',
  help: `Usage: tessera-authenticator add <otpauth-uri | qr.png | -> [--force] [--json]

Adds a TOTP account. The argument is an otpauth:// URI, the path of a PNG image
holding its QR code, or - to read the URI from standard input (which keeps the
secret out of the shell history and the process list).

Adding the same account (issuer and label) with the same secret again changes
nothing. With another secret or other settings it is refused unless --force.

Options:
  --force   replace an existing account with the same issuer and label
  --json    print {"status": "added"|"unchanged"|"replaced", "account": {...}}
  -h, --help

Examples:
  tessera-authenticator add 'otpauth://totp/Example:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Example'
  tessera-authenticator add ~/Downloads/qr.png
  pbpaste | tessera-authenticator add -
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('add', {
      args: argv,
      options: { ...COMMON_OPTIONS, force: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const [source = ''] = expectPositionals('add', positionals, 1, 1);
    const parameters = await readAccountSource(source, context);
    const now = context.now();
    const outcome = await updateStore(context.storeDirectory, (contents) => {
      const result = addAccount(contents.accounts, parameters, { force: values.force === true, now });
      return { contents: result.status === 'unchanged' ? null : { ...contents, accounts: result.accounts }, result };
    });

    if (values.json === true) {
      writeJson(context, { status: outcome.status, account: summarizeAccount(outcome.account) });
      return;
    }
    const { account } = outcome;
    const settings = `${account.algorithm}, ${account.digits} digits, every ${account.period} s`;
    const name = accountName(account);
    const line = {
      added: `Added ${name} (${settings}).`,
      replaced: `Replaced ${name} (${settings}).`,
      unchanged: `${name} is already there with this secret; nothing changed.`,
    }[outcome.status];
    const current = totpCode(account, now.getTime());
    context.stdout.write(`${line}\nCurrent code: ${current.code} (${current.seconds_left} s left)\n`);
  },
};

async function readAccountSource(source: string, context: CommandContext): Promise<TotpParameters> {
  if (source === '-') return parseOtpauthUri(await context.readStdin());
  if (looksLikeUri(source)) return parseOtpauthUri(source);
  const file = path.resolve(context.cwd, source);
  const text = await readQrImageFile(file);
  try {
    return parseOtpauthUri(text);
  } catch (error) {
    if (error instanceof AuthenticatorError) {
      throw new AuthenticatorError(error.code, `The QR code in ${source}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}
