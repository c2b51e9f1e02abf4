import { COMMON_OPTIONS, expectPositionals, formatTable, parseCommandArgs, writeJson } from '../command.ts';
import type { Command } from '../command.ts';
import { readStore } from '../store.ts';
import { summarizeAccount } from '../totp-account.ts';

export const listCommand: Command = {
  name: 'list',
  summary: 'list the accounts (never their secrets)',
  help: `Usage: tessera-authenticator list [--json]

Lists the accounts: issuer, label, algorithm, digits and period. Secrets are never shown.

Options:
  --json    print an array of {"issuer", "label", "algorithm", "digits", "period", "added_at"}
  -h, --help

Example:
  tessera-authenticator list
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('list', {
      args: argv,
      options: COMMON_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    expectPositionals('list', positionals, 0, 0);
    const { accounts } = await readStore(context.storeDirectory);

    if (values.json === true) {
      writeJson(context, accounts.map(summarizeAccount));
      return;
    }
    if (accounts.length === 0) {
      context.stdout.write('No accounts yet. Add one with: tessera-authenticator add <otpauth-uri | qr.png>\n');
      return;
    }
    const rows = accounts.map((account) => [
      account.issuer === '' ? '-' : account.issuer,
      account.label,
      account.algorithm,
      String(account.digits),
      `${account.period}s`,
    ]);
    context.stdout.write(formatTable([['ISSUER', 'LABEL', 'ALGORITHM', 'DIGITS', 'PERIOD'], ...rows]));
  },
};
