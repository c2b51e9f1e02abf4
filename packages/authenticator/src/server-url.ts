/** A server's base URL as a registration or login code names it, or why it cannot be one. */
export type ServerUrl = { url: string } | { problem: string };

/**
 * Reads the base URL of a Tessera server: http(s), to which API paths such as /v1/devices are appended (so a
 * path prefix is kept, for a server behind a proxy). A query or a fragment would end up in the middle of every
 * call's URL, so it is refused rather than guessed away.
 */
export function parseServerUrl(text: string): ServerUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: 'is not an http(s) URL' };
  // `URL.search` is empty for a lone "?", which would still end up in every call: look at the text itself.
  if (/[?#]/.test(text)) return { problem: 'has a query or a fragment (?… or #…); it must be a base URL such as https://auth.example.com' };
  return { url: url.href.replace(/\/+$/, '') };
}
