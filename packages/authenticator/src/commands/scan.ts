import path from 'node:path';
import { encryptProfile, type Profile, type ProfileField, type QrLoginClaim } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { looksLikeUri } from '../otpauth-uri.ts';
import { readQrImageFile } from '../qr-image.ts';
import { parseLoginCode, QrLoginClient } from '../qr-login-client.ts';
import { readStore } from '../store.ts';
import { printable } from '../terminal-text.ts';

export const scanCommand: Command = {
  name: 'scan',
  summary: 'sign in to a website by its login QR code (a tessera://login URI or a PNG)',
  help: `Usage: tessera-authenticator scan <qr-payload | qr.png> [--approve | --deny] [--json]

Reads a login QR code, claims it, and shows what you are asked to approve: the app, its logo, the
profile fields it asks for, and where the sign-in was started (the browser's IP address, its user agent
and the time). Check them: a code relayed from someone else's screen shows their browser, not yours.
Then approve (the page is signed in, and the requested fields you hold are sent, encrypted for this
login only) or deny. Needs the identity from init; the fields come from profile set.

Options:
  --approve   approve without asking, consenting to every requested field (for scripts)
  --deny      deny without asking
  --json      print {"login_id", "app", "requested_fields", "shared_fields", "browser", "status"}
  -h, --help

Without --approve or --deny it asks at the terminal; with --json, or with no terminal, it refuses
to guess (exit status 1). Ctrl-C or Ctrl-D at the question denies the sign-in (exit status 130).

Example:
  tessera-authenticator scan ~/Downloads/login-qr.png
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('scan', {
      args: argv,
      options: { ...COMMON_OPTIONS, approve: { type: 'boolean' }, deny: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
    const [source = ''] = expectPositionals('scan', positionals, 1, 1);
    if (values.approve === true && values.deny === true) throw new AuthenticatorError('invalid_arguments', 'scan: choose --approve or --deny, not both.');
    // Checked before the code is claimed, so that the page goes on showing it. --json prints no consent screen:
    // asking there would ask for an approval blind.
    if (values.approve !== true && values.deny !== true && (values.json === true || !context.prompt)) {
      const why = values.json === true ? 'with --json it never asks at the terminal' : 'no terminal to ask at';
      throw new AuthenticatorError('decision_required', `scan: ${why}: pass --approve or --deny.`);
    }
    const code = parseLoginCode(source.startsWith('tessera:') || looksLikeUri(source) ? source : await readQrImageFile(path.resolve(context.cwd, source)));
    const { identity, profile } = await readStore(context.storeDirectory);
    if (!identity) throw new AuthenticatorError('no_identity', 'This authenticator has no identity yet: run tessera-authenticator init first.');

    const client = new QrLoginClient(code, identity);
    const claim = await client.claim();
    const shared = claim.requested_fields.filter((field) => profile?.[field] !== undefined);
    if (values.json !== true) context.stdout.write(consentScreen(claim, profile ?? {}, shared));
    const approve = values.approve === true || (values.deny !== true && (await ask(context, client)));
    let status: string;
    if (approve) {
      const consented: Profile = Object.fromEntries(shared.map((field) => [field, profile?.[field]]));
      const jwe = shared.length > 0 ? await encryptProfile(claim.encryption_key, consented) : undefined;
      ({ status } = await client.answer('approve', { fields: shared, ...(jwe ? { profile: jwe } : {}) }));
    } else {
      ({ status } = await client.answer('deny'));
    }
    if (values.json === true) {
      const { encryption_key: _key, ...shown } = claim;
      writeJson(context, { ...shown, shared_fields: approve ? shared : [], status });
      return;
    }
    context.stdout.write(status === 'approved' ? `${printable(`Approved: ${claim.app.display_name} signs you in.`)}\n` : 'Denied: the page was told.\n');
  },
};

function consentScreen(claim: QrLoginClaim, profile: Profile, shared: ProfileField[]): string {
  const logo = claim.app.logo ? `a PNG image (${claim.app.logo.length} characters: ${claim.app.logo.slice(0, 40)}…)` : 'none';
  const fields = claim.requested_fields.map((field) =>
    shared.includes(field) ? `    ${field}: ${profile[field]}` : `    ${field}: (not in your profile, not shared)`,
  );
  // Every line may hold what the app or the browser chose (its name, its user agent): each is kept to one line.
  const lines = [
    `${claim.app.display_name} asks you to sign in.`,
    `  app:      ${claim.app.app_id}`,
    `  logo:     ${logo}`,
    `  started from ${claim.browser.ip}, ${claim.browser.user_agent || '(no user agent)'}`,
    `  at ${claim.browser.started_at}`,
    claim.requested_fields.length > 0 ? '  it asks for:' : '  it asks for no profile fields.',
    ...fields,
    `  answer before ${claim.expires_at}`,
  ];
  return lines.map((line) => `${printable(line)}\n`).join('');
}

/** Asks at the terminal. Cancelled, the login is denied: the page would otherwise wait, "scanned", until it expires. */
async function ask(context: CommandContext, client: QrLoginClient): Promise<boolean> {
  try {
    const reply = await (context.prompt as (question: string) => Promise<string>)('Approve this sign-in? [y/N] ');
    return /^y(es)?$/i.test(reply.trim());
  } catch (error) {
    if (!(error instanceof AuthenticatorError && error.code === 'cancelled')) throw error;
    const denied = await client.answer('deny').then(
      () => true,
      () => false,
    );
    throw new AuthenticatorError(
      'cancelled',
      denied ? 'Cancelled: the sign-in was denied.' : 'Cancelled; the sign-in could not be denied (the server did not answer), so the page waits until the code expires.',
      { cause: error },
    );
  }
}
