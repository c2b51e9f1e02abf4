import { AuthenticatorError } from './errors.ts';
import { parseServerUrl } from './server-url.ts';

/** `tessera://register?server=<url-encoded base URL>&token=<registration token>`, as an app shows it. */
export function parseRegistrationUri(text: string): { server: string; token: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new AuthenticatorError('invalid_registration_uri', 'This is not a tessera://register URI: it is not a URI at all.');
  }
  if (url.protocol !== 'tessera:' || url.hostname !== 'register') {
    throw new AuthenticatorError('invalid_registration_uri', 'This is not a tessera://register URI: an app shows one as a QR code to register a device.');
  }
  const server = url.searchParams.get('server');
  const token = url.searchParams.get('token');
  if (!token) throw invalid('it has no token');
  if (!server) throw invalid('it has no server');
  const base = parseServerUrl(server);
  if ('problem' in base) throw invalid(`its server, ${server}, ${base.problem}`);
  return { server: base.url, token };
}

function invalid(why: string): AuthenticatorError {
  return new AuthenticatorError('invalid_registration_uri', `This registration code cannot be used: ${why}.`);
}
