// The one gate every network request passes first: Host (DNS rebinding), Origin (web pages), then the token.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Config } from '../src/config.js';

export type GateConfig = Pick<Config, 'host' | 'authToken' | 'allowedOrigins' | 'allowedHosts' | 'publicHealth'>;

/** What a request wants to reach. Only `health` may skip the token, and only with `publicHealth`. */
export type GateEndpoint = 'mcp' | 'health' | 'metrics';

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
  if (origin !== undefined && !isAllowedOrigin(origin, config.allowedOrigins) && !isOwnLoopbackOrigin(origin, host!, config)) {
    return deny(403, 'forbidden origin', `Origin ${JSON.stringify(clip(origin))} is not in allowedOrigins`);
  }
  if (config.authToken === undefined || (endpoint === 'health' && config.publicHealth)) return { ok: true };
  if (!presentedTokens(req).some((t) => tokensEqual(t, config.authToken!))) {
    return {
      ...deny(401, 'unauthorized', 'send the token as "Authorization: Bearer <token>" or as the "token" query parameter'),
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

function isAllowedOrigin(origin: string, allowed: readonly string[]): boolean {
  const o = normaliseOrigin(origin);
  return allowed.some((a) => normaliseOrigin(a) === o);
}

/**
 * A page served by this server on loopback: Origin `http://127.0.0.1:<port>` (or localhost, [::1]) with the
 * port the request came to. Accepted only when bound to loopback and when the Host is a loopback name: a
 * DNS-rebinding page has the attacker's name in Host, which the Host check has already refused.
 */
function isOwnLoopbackOrigin(origin: string, hostHeader: string, config: GateConfig): boolean {
  if (!isLoopbackBind(config.host)) return false;
  const name = parseHostName(hostHeader);
  if (name === undefined || !LOOPBACK_HOSTS.includes(name)) return false;
  const port = /:(\d+)$/.exec(hostHeader.trim())?.[1] ?? '80';
  let url: URL;
  try {
    url = new URL(origin.trim());
  } catch {
    return false;
  }
  const originPort = url.port || (url.protocol === 'https:' ? '443' : '80');
  return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.includes(url.hostname) && originPort === port;
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
