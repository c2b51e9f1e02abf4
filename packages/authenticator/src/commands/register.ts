import path from 'node:path';
import { signDeviceIdentityProof, type Device } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { callServer } from '../device-client.ts';
import { AuthenticatorError } from '../errors.ts';
import { newKeyPair, privateKeyOf, type Registration } from '../identity.ts';
import { looksLikeUri } from '../otpauth-uri.ts';
import { readQrImageFile } from '../qr-image.ts';
import { parseRegistrationUri } from '../registration-uri.ts';
import { readStore, updateStore } from '../store.ts';
import { printable } from '../terminal-text.ts';

export const registerCommand: Command = {
  name: 'register',
  summary: 'register as a push device from a tessera://register URI or its QR code (PNG)',
  help: `Usage: tessera-authenticator register <registration-uri | qr.png> [--json]

Registers this authenticator as a push device of the user the app made the code for. A new key
pair is made for this registration (apps cannot link registrations by their keys); the server
keeps the public key and the identity key's thumbprint. Run init first.

Options:
  --json    print {"device_id", "factor_id", "user_id", "app": {...}, "server"}
  -h, --help

Examples:
  tessera-authenticator register 'tessera://register?server=https%3A%2F%2Fauth.example.com&token=drt_…'
  tessera-authenticator register ~/Downloads/register.png
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('register', { args: argv, options: COMMON_OPTIONS, allowPositionals: true, strict: true });
    const [source = ''] = expectPositionals('register', positionals, 1, 1);
    const { server, token } = parseRegistrationUri(await readSource(source, context));
    const { identity } = await readStore(context.storeDirectory);
    if (identity === null) throw new AuthenticatorError('not_initialized', 'Run "tessera-authenticator init" first: registering needs the identity key.');
    const keys = await newKeyPair(identity.alg);
    // The identity key signs this registration: that this authenticator holds it (an identity key is public).
    const identityProof = await signDeviceIdentityProof(await privateKeyOf(identity), {
      registrationToken: token,
      publicKey: keys.public_jwk,
    });
    const device = await callServer<Device>(server, 'POST', '/v1/devices', {
      body: {
        registration_token: token,
        public_key: keys.public_jwk,
        name: identity.name,
        identity_key: identity.public_jwk,
        identity_proof: identityProof,
      },
    });
    const registration: Registration = {
      ...keys,
      device_id: device.device_id,
      server,
      app_id: device.app.app_id,
      app_name: device.app.display_name,
      user_id: device.user_id,
      registered_at: context.now().toISOString(),
    };
    await updateStore(context.storeDirectory, (contents) => ({
      contents: { ...contents, registrations: [...contents.registrations, registration] },
      result: undefined,
    }));
    if (values.json === true) {
      writeJson(context, { device_id: device.device_id, factor_id: device.factor_id, user_id: device.user_id, app: device.app, server });
      return;
    }
    context.stdout.write(`${printable(`Registered with ${device.app.display_name} as ${device.user_id} (device ${device.device_id}).`)}\n`);
  },
};

async function readSource(source: string, context: CommandContext): Promise<string> {
  // Any URI (http://… too) is read as one, to be refused as such rather than looked for as an image file.
  if (source.startsWith('tessera:') || looksLikeUri(source)) return source;
  return readQrImageFile(path.resolve(context.cwd, source));
}
