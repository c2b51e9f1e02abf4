import { AuthenticatorError } from './errors.ts';
import { accountName, isSameAccount } from './totp-account.ts';
import type { TotpAccount, TotpParameters } from './totp-account.ts';

export type AddAccountStatus = 'added' | 'unchanged' | 'replaced';

export interface AddAccountOutcome {
  status: AddAccountStatus;
  account: TotpAccount;
  /** The accounts after the change; the same array when `status` is `unchanged`. */
  accounts: TotpAccount[];
}

/**
 * The rules for adding an account that may already be there (same issuer and label):
 * the same secret and settings again is a no-op, so scanning a QR code twice is harmless;
 * anything else replaces it only with `force`, since losing a working secret locks the person out.
 */
export function addAccount(
  accounts: readonly TotpAccount[],
  parameters: TotpParameters,
  options: { force: boolean; now: Date },
): AddAccountOutcome {
  const index = accounts.findIndex((existing) => isSameAccount(existing, parameters));
  const existing = index === -1 ? undefined : accounts[index];
  if (existing === undefined) {
    const account = { ...parameters, added_at: options.now.toISOString() };
    return { status: 'added', account, accounts: [...accounts, account] };
  }
  if (hasSameSettings(existing, parameters)) {
    return { status: 'unchanged', account: existing, accounts: [...accounts] };
  }
  if (!options.force) {
    throw new AuthenticatorError(
      'account_exists',
      `An account "${accountName(parameters)}" already exists with another secret or settings; add --force to replace it.`,
    );
  }
  const account = { ...parameters, added_at: options.now.toISOString() };
  return { status: 'replaced', account, accounts: accounts.map((entry, i) => (i === index ? account : entry)) };
}

function hasSameSettings(a: TotpParameters, b: TotpParameters): boolean {
  return a.secret === b.secret && a.algorithm === b.algorithm && a.digits === b.digits && a.period === b.period;
}
