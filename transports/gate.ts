// The one gate every network request passes first: Host (DNS rebinding), Origin (web pages), then the token.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Config } from '../src/config.js';

export type GateConfig = Pick<Config, 'host' | 'authToken' | 'allowedOrigins' | 'allowedHosts' | 'publicHealth' | 'console'>;

/** What a request wants to reach. Only `health` may skip the token, and only with `publicHealth`. */
export type GateEndpoint = 'mcp' | 'health' | 'metrics' | 'console';

export type GateVerdict =
  { ok: true } | { ok: false; status: 401 | 403; body: { error: string; detail: string }; headers?: Record<string, string> };

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARD_BINDS = ['0.0.0.0', '::', '[::]'];
const MAX_ECHO_CHARS = 100;

/**
 * Decide whether a request may proceed. Used for the WebSocket upgrade and for every HTTP route, before
 * anything else looks at the request. Never logs and never returns the token.
 */
export function checkGate(req: IncomingMessage, config: GateConfig, endpoint: GateEndpoint = 'mcp'): GateVerdict {
  const host = req.headers.host;
  if (!isAllowedHost(host, config)) {
    return deny(
      403,
      'forbidden host',
      `Host ${JSON.stringify(clip(host ?? ''))} is not a loopback name or in allowedHosts (DNS rebinding protection)`,
    );
  }
  const origin = req.headers.origin;
  // With the console on, our own page is same-origin (scheme://Host, Host checked above); other pages need allowedOrigins.
  const ownPage = config.console && origin !== undefined && isSameOrigin(origin, host!);
  if (origin !== undefined && !ownPage && !isAllowedOrigin(origin, config.allowedOrigins)) {
    return deny(403, 'forbidden origin', `Origin ${JSON.stringify(clip(origin))} is not in allowedOrigins`);
  }
  if (config.authToken === undefined || (endpoint === 'health' && config.publicHealth)) return { ok: true };
  if (!hasValidCredential(req, config.authToken)) {
    return {
      ...deny(
        401,
        'unauthorized',
        endpoint === 'console'
          ? 'open the console once with ?token=<token> in the URL; it then remembers the token in a cookie'
          : 'send the token as "Authorization: Bearer <token>" or as the "token" query parameter',
      ),
      headers: { 'www-authenticate': 'Bearer realm="cc-executor"' },
    };
  }
  return { ok: true };
}

function deny(status: 401 | 403, error: string, detail: string): Extract<GateVerdict, { ok: false }> {
  return { ok: false, status, body: { error, detail } };
}

function clip(s: string): string {
  return s.length > MAX_ECHO_CHARS ? `${s.slice(0, MAX_ECHO_CHARS)}...` : s;
}

/** The host name of a Host header, lower-cased and without port (`[::1]` keeps its brackets), or undefined if malformed. */
export function parseHostName(header: string): string | undefined {
  const h = header.trim().toLowerCase();
  let name: string;
  let rest: string;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return undefined;
    name = h.slice(0, end + 1);
    rest = h.slice(end + 1);
  } else {
    const colon = h.indexOf(':');
    name = colon < 0 ? h : h.slice(0, colon);
    rest = colon < 0 ? '' : h.slice(colon);
  }
  if (name === '' || (rest !== '' && !/^:\d{0,5}$/.test(rest))) return undefined;
  return name;
}

/** The bind address as it appears in a Host header (`::1` -> `[::1]`), or undefined for wildcard binds. */
function bindHostName(host: string): string | undefined {
  const h = host.toLowerCase();
  if (WILDCARD_BINDS.includes(h)) return undefined;
  return isIP(h) === 6 ? `[${h}]` : h;
}

function isAllowedHost(header: string | undefined, config: GateConfig): boolean {
  if (header === undefined) return false;
  const name = parseHostName(header);
  if (name === undefined) return false;
  if (LOOPBACK_HOSTS.includes(name) || name === bindHostName(config.host)) return true;
  const full = header.trim().toLowerCase();
  return config.allowedHosts.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e === '*') return true;
    // An entry with a port must match exactly; without one, any port.
    return parseHostName(e) === e ? e === name : e === full;
  });
}

function normaliseOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

/** True when `origin` is this server itself as the browser reached it (http or https, same Host header). */
function isSameOrigin(origin: string, hostHeader: string): boolean {
  const o = normaliseOrigin(origin);
  const h = hostHeader.trim().toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}

function isAllowedOrigin(origin: string, allowed: readonly string[]): boolean {
  const o = normaliseOrigin(origin);
  return allowed.some((a) => normaliseOrigin(a) === o);
}

/** Tokens the request offers: the Bearer credential and the `token` query parameter (the SDK's WebSocket client cannot send headers). */
function presentedTokens(req: IncomingMessage): string[] {
  const out: string[] = [];
  const auth = req.headers.authorization;
  const bearer = typeof auth === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth) : null;
  if (bearer) out.push(bearer[1]!);
  const query = parseRequestUrl(req)?.searchParams.getAll('token') ?? [];
  out.push(...query);
  return out;
}

/**
 * The console's cookie name for the port the request came in on: browsers send a localhost cookie to every
 * port, so two servers on one machine must not overwrite each other's cookie.
 */
export function consoleCookieName(req: IncomingMessage): string {
  return `cc_executor_${req.socket.localPort ?? 0}`;
}

/**
 * What the console cookie holds: a value derived from the token (HMAC), not the token itself, so the
 * cookie is worth nothing against another server and does not reveal the token to anything that reads it.
 */
export function consoleCookieValue(token: string): string {
  return createHmac('sha256', token).update('cc-executor console cookie v1').digest('base64url');
}

/** The console cookie's value in this request, if any. */
function presentedCookie(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  const name = consoleCookieName(req);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function hasValidCredential(req: IncomingMessage, token: string): boolean {
  if (presentedTokens(req).some((t) => tokensEqual(t, token))) return true;
  const cookie = presentedCookie(req);
  return cookie !== undefined && tokensEqual(cookie, consoleCookieValue(token));
}

// Constant time: compare fixed-length digests, so neither the content nor the length of the token leaks through timing.
function tokensEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The request URL parsed leniently; undefined when it cannot be parsed (never throws: `req.url` is raw client input). */
export function parseRequestUrl(req: IncomingMessage): URL | undefined {
  try {
    return new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The path of a request (no query string: it may carry the token), or undefined for an unparseable URL. */
export function requestPath(req: IncomingMessage): string | undefined {
  return parseRequestUrl(req)?.pathname;
}

/** Headers safe to hand to tool handlers: without the credential. */
export function redactHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { authorization: _authorization, ...rest } = headers;
  return rest;
}

/** True for bind addresses only this machine can reach. */
export function isLoopbackBind(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * Why the network server must not start with this config, or undefined when it may. Binding beyond
 * loopback without a token hands a shell to anyone who can reach the port.
 */
export function checkBind(config: Pick<Config, 'host' | 'authToken' | 'insecureNoAuth'>): string | undefined {
  if (isLoopbackBind(config.host) || config.authToken !== undefined || config.insecureNoAuth) return undefined;
  return (
    `refusing to listen on ${config.host} without an auth token: anyone who can reach that address could run commands. ` +
    'Set CC_EXECUTOR_TOKEN (or authToken in the config file), bind 127.0.0.1, or pass --insecure-no-auth to accept the risk.'
  );
}
