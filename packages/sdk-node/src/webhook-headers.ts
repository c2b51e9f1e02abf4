/** Request headers as frameworks hand them over: a fetch `Headers`, or Node's plain record (Express, Fastify). */
export type WebhookHeaders = HeadersLike | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface HeadersLike {
  get(name: string): string | null;
}

function isHeadersLike(headers: WebhookHeaders): headers is HeadersLike {
  return typeof headers.get === 'function';
}

/**
 * One header, case-insensitively; undefined when absent or empty. A header sent more than once
 * arrives as a list, whose values are joined by spaces (several signatures stay several).
 */
export function readHeader(headers: WebhookHeaders, name: string): string | undefined {
  let value: string | readonly string[] | null | undefined;
  if (isHeadersLike(headers)) {
    value = headers.get(name);
  } else {
    const wanted = name.toLowerCase();
    const key = Object.keys(headers).find((candidate) => candidate.toLowerCase() === wanted);
    value = key === undefined ? undefined : headers[key];
  }
  const text = typeof value === 'string' ? value : value?.join(' ');
  return text?.trim() || undefined;
}
