import { COMMON_OPTIONS, expectPositionals, formatTable, parseCommandArgs, writeJson } from '../command.ts';
import type { Command } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { readStore } from '../store.ts';
import { accountMatches, accountName, totpCode } from '../totp-account.ts';

export const codeCommand: Command = {
  name: 'code',
  summary: 'print the current code of an account (or of all of them) and the seconds it has left',
  help: `Usage: tessera-authenticator code [account] [--json]

Prints the current TOTP code and how many seconds it stays valid. [account]
picks accounts whose issuer or label contains it (case-insensitive; "issuer:label"
works too). Without it, or when it matches several accounts, all of those are printed.

Options:
  --json    print {"issuer", "label", "code", "seconds_left", "expires_at"}: one object
            when [account] picks exactly one account, else an array of them
  -h, --help

Examples:
  tessera-authenticator code
  tessera-authenticator code github
  tessera-authenticator code example:alice --json
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('code', {
      args: argv,
      options: COMMON_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    const [filter] = expectPositionals('code', positionals, 0, 1);
    const { accounts } = await readStore(context.storeDirectory);
    if (accounts.length === 0) {
      throw new AuthenticatorError(
        'no_matching_account',
        'There are no accounts yet. Add one with: tessera-authenticator add <otpauth-uri | qr.png>',
      );
    }
    const picked = filter === undefined ? accounts : accounts.filter((account) => accountMatches(account, filter));
    if (picked.length === 0) {
      throw new AuthenticatorError(
        'no_matching_account',
        `No account matches "${filter ?? ''}"; tessera-authenticator list shows them all.`,
      );
    }

    const nowMs = context.now().getTime();
    const codes = picked.map((account) => ({ account, ...totpCode(account, nowMs) }));
    if (values.json === true) {
      const objects = codes.map(({ account, code, seconds_left, expires_at }) => ({
        issuer: account.issuer,
        label: account.label,
        code,
        seconds_left,
        expires_at,
      }));
      writeJson(context, filter !== undefined && objects.length === 1 ? objects[0] : objects);
      return;
    }
    const rows = codes.map(({ account, code, seconds_left }) => [accountName(account), code, `${seconds_left} s left`]);
    context.stdout.write(formatTable(rows));
  },
};
