import { AuthenticatorError } from './errors.ts';

/** `tessera://register?server=<url-encoded base URL>&token=<registration token>`, as an app shows it. */
export function parseRegistrationUri(text: string): { server: string; token: string } {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw invalid('it is not a URI');
  }
  if (url.protocol !== 'tessera:' || url.hostname !== 'register') throw invalid('it does not start with tessera://register');
  const server = url.searchParams.get('server');
  const token = url.searchParams.get('token');
  if (!token) throw invalid('it has no token');
  if (!server) throw invalid('it has no server');
  let base: URL;
  try {
    base = new URL(server);
  } catch {
    throw invalid('its server is not a URL');
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') throw invalid('its server is not an http(s) URL');
  return { server: base.href.replace(/\/+$/, ''), token };
}

function invalid(why: string): AuthenticatorError {
  return new AuthenticatorError('invalid_registration_uri', `This is not a registration code: ${why}.`);
}
