import { readFile } from 'node:fs/promises';
import { normalizeBase32Secret } from './base32-secret.ts';
import { AuthenticatorError } from './errors.ts';
import { keyPairProblem, type Identity, type Registration } from './identity.ts';
import { ensurePrivateDirectory, ensurePrivateFile, isErrnoException, writePrivateFileAtomically } from './private-files.ts';
import { withStoreLock } from './store-lock.ts';
import { storeFilePath } from './store-location.ts';
import { MAX_TOTP_PERIOD, TOTP_ALGORITHMS, TOTP_DIGITS } from './totp-account.ts';
import type { TotpAccount } from './totp-account.ts';
import { profileFields, type Profile } from '@tessera/contracts';

export const STORE_VERSION = 1;

/**
 * What the store file holds: `{ "version": 1, "accounts": [...], "identity": {...}, "registrations": [...] }`.
 * `identity` and `registrations` appear once `init` and `register` ran.
 */
export interface StoreContents {
  accounts: TotpAccount[];
  identity: Identity | null;
  registrations: Registration[];
  /** What `scan` may share with an app at QR login, set by `profile set`. */
  profile: Profile | null;
  /**
   * Top-level fields this version of the code does not know, written back unchanged so that running an
   * older authenticator on a newer store of the same version loses nothing.
   */
  unknownFields: Readonly<Record<string, unknown>>;
}

/** Reads the store in `directory`; a store that does not exist yet is empty. */
export async function readStore(directory: string): Promise<StoreContents> {
  const file = storeFilePath(directory);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isErrnoException(error) && error.code === 'ENOENT') return emptyStore();
    throw new AuthenticatorError('store_corrupt', `Cannot read the store ${file}: ${String(error)}`, { cause: error });
  }
  // A store someone loosened by hand is made private again as soon as it is seen.
  await ensurePrivateDirectory(directory);
  await ensurePrivateFile(file);
  return parseStore(text, file);
}

/**
 * Changes the store: reads it, hands it to `change`, writes what `change` returns (atomically, mode 0600
 * in a 0700 directory), all under the store's lock. `change` returning `null` means nothing to write.
 */
export async function updateStore<T>(
  directory: string,
  change: (contents: StoreContents) => { contents: StoreContents | null; result: T },
): Promise<T> {
  await ensurePrivateDirectory(directory);
  return withStoreLock(directory, async () => {
    const { contents, result } = change(await readStore(directory));
    if (contents !== null) {
      await writePrivateFileAtomically(storeFilePath(directory), serializeStore(contents));
    }
    return result;
  });
}

/** Removes the registrations of these devices (their server removed them: every call would be refused again). */
export async function forgetRegistrations(directory: string, deviceIds: readonly string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await updateStore(directory, (contents) => ({
    contents: { ...contents, registrations: contents.registrations.filter((registration) => !deviceIds.includes(registration.device_id)) },
    result: undefined,
  }));
}

export function emptyStore(): StoreContents {
  return { accounts: [], identity: null, registrations: [], profile: null, unknownFields: {} };
}

export function serializeStore(contents: StoreContents): string {
  const document = {
    ...contents.unknownFields,
    version: STORE_VERSION,
    accounts: contents.accounts,
    ...(contents.identity ? { identity: contents.identity } : {}),
    ...(contents.registrations.length > 0 ? { registrations: contents.registrations } : {}),
    ...(contents.profile ? { profile: contents.profile } : {}),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}

export function parseStore(text: string, file: string): StoreContents {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw corrupt(file, 'it is not valid JSON', error);
  }
  if (!isRecord(document)) throw corrupt(file, 'it is not a JSON object');
  const { version, accounts, identity, registrations = [], profile, ...unknownFields } = document;
  if (typeof version === 'number' && version > STORE_VERSION) {
    throw new AuthenticatorError(
      'store_too_new',
      `The store ${file} has format version ${version}, newer than this tessera-authenticator understands (${STORE_VERSION}); update it.`,
    );
  }
  if (version !== STORE_VERSION) throw corrupt(file, `its "version" is ${JSON.stringify(version)}, expected ${STORE_VERSION}`);
  if (!Array.isArray(accounts)) throw corrupt(file, '"accounts" is not an array');
  if (!Array.isArray(registrations)) throw corrupt(file, '"registrations" is not an array');
  return {
    accounts: accounts.map((account: unknown, index) => parseAccount(account, index, file)),
    identity: identity === undefined ? null : parseIdentity(identity, file),
    registrations: registrations.map((registration: unknown, index) => parseRegistration(registration, index, file)),
    profile: profile === undefined ? null : parseProfile(profile, file),
    unknownFields,
  };
}

function parseIdentity(value: unknown, file: string): Identity {
  if (!isRecord(value)) throw corrupt(file, '"identity" is not an object');
  const problem = keyPairProblem(value);
  if (problem) throw corrupt(file, `its identity has ${problem}`);
  if (typeof value.name !== 'string' || typeof value.created_at !== 'string') throw corrupt(file, 'its identity has no name');
  return value as unknown as Identity;
}

function parseProfile(value: unknown, file: string): Profile {
  if (!isRecord(value)) throw corrupt(file, '"profile" is not an object');
  for (const [field, text] of Object.entries(value)) {
    if (!profileFields.includes(field as keyof Profile) || typeof text !== 'string') throw corrupt(file, `its profile has a bad field "${field}"`);
  }
  return value as Profile;
}

function parseRegistration(value: unknown, index: number, file: string): Registration {
  const where = `registration ${index + 1}`;
  if (!isRecord(value)) throw corrupt(file, `${where} is not an object`);
  const problem = keyPairProblem(value);
  if (problem) throw corrupt(file, `${where} has ${problem}`);
  for (const field of ['device_id', 'server', 'app_id', 'app_name', 'user_id', 'registered_at']) {
    if (typeof value[field] !== 'string') throw corrupt(file, `${where} has no ${field}`);
  }
  return value as unknown as Registration;
}

function parseAccount(value: unknown, index: number, file: string): TotpAccount {
  const where = `account ${index + 1}`;
  if (!isRecord(value)) throw corrupt(file, `${where} is not an object`);
  const { issuer, label, secret, algorithm, digits, period, added_at: addedAt } = value;
  if (typeof issuer !== 'string') throw corrupt(file, `${where} has no issuer string`);
  if (typeof label !== 'string' || label === '') throw corrupt(file, `${where} has no label`);
  if (typeof secret !== 'string') throw corrupt(file, `${where} has no secret`);
  const knownAlgorithm = TOTP_ALGORITHMS.find((candidate) => candidate === algorithm);
  if (knownAlgorithm === undefined) throw corrupt(file, `${where} has an unsupported algorithm`);
  const knownDigits = TOTP_DIGITS.find((candidate) => candidate === digits);
  if (knownDigits === undefined) throw corrupt(file, `${where} has an unsupported number of digits`);
  if (typeof period !== 'number' || !Number.isInteger(period) || period < 1 || period > MAX_TOTP_PERIOD) {
    throw corrupt(file, `${where} has an unsupported period`);
  }
  if (typeof addedAt !== 'string') throw corrupt(file, `${where} has no added_at`);
  let normalizedSecret: string;
  try {
    normalizedSecret = normalizeBase32Secret(secret);
  } catch (error) {
    throw corrupt(file, `${where} has a secret that is not Base32`, error);
  }
  return { issuer, label, secret: normalizedSecret, algorithm: knownAlgorithm, digits: knownDigits, period, added_at: addedAt };
}

function corrupt(file: string, why: string, cause?: unknown): AuthenticatorError {
  return new AuthenticatorError('store_corrupt', `The store ${file} is damaged: ${why}. It was left as it is.`, { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
