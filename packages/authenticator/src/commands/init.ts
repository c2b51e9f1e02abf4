import { hostname } from 'node:os';
import { deviceAlgorithms, type DeviceAlgorithm } from '@tessera/contracts';
import { COMMON_OPTIONS, expectPositionals, parseCommandArgs, writeJson } from '../command.ts';
import type { Command } from '../command.ts';
import { AuthenticatorError } from '../errors.ts';
import { newKeyPair, thumbprintOf, type Identity } from '../identity.ts';
import { updateStore } from '../store.ts';

export const initCommand: Command = {
  name: 'init',
  summary: 'create this authenticator’s identity key (once)',
  help: `Usage: tessera-authenticator init [--name NAME] [--alg ES256|EdDSA] [--json]

Creates the authenticator's identity: a key pair kept in the store (mode 0600) that signs QR logins,
and a name that apps show as the device's name. Run it once, before register and scan; running it
again changes nothing (with --name, it renames the authenticator). The key's algorithm never changes:
--alg naming another one than the existing key's is refused (exit status 1).

Options:
  --name NAME   the name apps show for this authenticator (default: this computer's host name)
  --alg ALG     ES256 (P-256, the default) or EdDSA (Ed25519)
  --json        print {"name", "alg", "thumbprint", "created_at", "created"}
  -h, --help

Example:
  tessera-authenticator init --name "Ada's laptop"
`,
  async run(argv, context) {
    const { values, positionals } = parseCommandArgs('init', {
      args: argv,
      options: { ...COMMON_OPTIONS, name: { type: 'string' }, alg: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    expectPositionals('init', positionals, 0, 0);
    const name = values.name?.trim() ?? hostname();
    if (name === '' || name.length > 100) throw new AuthenticatorError('invalid_arguments', 'init: --name must be 1 to 100 characters.');
    const alg = (values.alg ?? 'ES256') as DeviceAlgorithm;
    if (!deviceAlgorithms.includes(alg)) throw new AuthenticatorError('invalid_arguments', 'init: --alg must be ES256 or EdDSA.');
    const fresh: Identity = { name, created_at: context.now().toISOString(), ...(await newKeyPair(alg)) };

    const { identity, created } = await updateStore(context.storeDirectory, (contents) => {
      if (contents.identity === null) return { contents: { ...contents, identity: fresh }, result: { identity: fresh, created: true } };
      if (values.alg !== undefined && contents.identity.alg !== alg) {
        // A new key would orphan every registration and QR login identity made with the old one.
        throw new AuthenticatorError(
          'identity_exists',
          `Already initialized as "${contents.identity.name}": the identity keeps its ${contents.identity.alg} key (an identity's algorithm cannot change), so --alg ${alg} was not applied and nothing changed.`,
        );
      }
      if (values.name === undefined || contents.identity.name === name) {
        return { contents: null, result: { identity: contents.identity, created: false } };
      }
      const renamed = { ...contents.identity, name };
      return { contents: { ...contents, identity: renamed }, result: { identity: renamed, created: false } };
    });
    const thumbprint = await thumbprintOf(identity);
    if (values.json === true) {
      writeJson(context, { name: identity.name, alg: identity.alg, thumbprint, created_at: identity.created_at, created });
      return;
    }
    context.stdout.write(
      created
        ? `Created the identity of "${identity.name}" (${identity.alg} key ${thumbprint}).\n`
        : `Already initialized as "${identity.name}" (${identity.alg} key ${thumbprint}, kept), since ${identity.created_at}.\n`,
    );
  },
};
