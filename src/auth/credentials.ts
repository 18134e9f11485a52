/**
 * Where credentials are read from a request, written once for every entry point (REST guard,
 * WebSocket and SSE handshakes, log redaction), so that what one accepts is what another checks.
 */

/**
 * `Authorization: Bearer <credentials>` as RFC 9110 §11.4 reads it: the scheme is case-insensitive,
 * one or more SP separate it from the credentials, and only SP/HTAB may follow them (Node has already
 * removed the field's surrounding whitespace). The credentials are visible ASCII (RFC 6750's b64token
 * and every API key Herald accepts); anything else — a no-break space, a vertical tab, a second word —
 * makes the header not a bearer credential at all. `.trim()` is not used: it strips Unicode spaces
 * that HTTP does not know, so `Bearer <key>\u00a0` would have matched the key.
 */
const BEARER = /^bearer +([\x21-\x7e]+)[ \t]*$/i;

export function bearerCredentials(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return BEARER.exec(header)?.[1];
}

/** The query parameter a browser puts its client token in (it cannot set headers on a WebSocket). */
export const TOKEN_QUERY_PARAMETER = 'access_token';

/**
 * The token of the query, read as the handshake reads it: URLSearchParams decodes parameter names
 * (`acc%65ss_token` is `access_token`), and the first occurrence wins.
 */
export function queryToken(query: URLSearchParams): string | undefined {
  return query.get(TOKEN_QUERY_PARAMETER) || undefined;
}

/**
 * Parameter names whose values never reach a log line, compared after decoding and in any case: the
 * token parameter, and the names a client might mistake for it.
 */
const SECRET_PARAMETERS: ReadonlySet<string> = new Set([TOKEN_QUERY_PARAMETER, 'token', 'api_key', 'apikey']);

export const REDACTED = 'REDACTED';

/**
 * A request target fit for a log line: every query parameter whose decoded name is secret has its
 * value replaced, and a fragment (never sent by a well-behaved client) is dropped. The query is
 * parsed exactly as the handshake parses it (WHATWG URL → URLSearchParams), so a name that the
 * handshake decodes to `access_token` is redacted however it was encoded.
 */
export function redactUrl(url: string): string {
  const fragment = url.indexOf('#');
  const target = fragment < 0 ? url : url.slice(0, fragment);
  if (!url.includes('?')) return target;
  const query = new URL(url, 'http://localhost').searchParams;
  let secret = false;
  for (const name of query.keys()) if (isSecretParameter(name)) secret = true;
  if (!secret) return target;
  const shown = new URLSearchParams();
  for (const [name, value] of query) shown.append(name, isSecretParameter(name) ? REDACTED : value);
  const path = target.includes('?') ? target.slice(0, target.indexOf('?')) : target;
  return `${path}?${shown.toString()}`;
}

const isSecretParameter = (name: string): boolean => SECRET_PARAMETERS.has(name.toLowerCase());
