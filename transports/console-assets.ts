// Serves the built browser console (dist/console) at /console: a fixed file list, the token-to-cookie step, strict headers.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleCookieName, consoleCookieValue, parseRequestUrl } from './gate.js';

const RELIST_MIN_MS = 1_000;

/** Where the console is served; `/` leads there. */
export const CONSOLE_PATH = '/console';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

// The page talks only to this server (fetch and WebSocket); nothing may frame it (Kill is one click away).
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * The built console: `dist/console` next to the compiled server, or, when the server runs from source
 * (tests), `dist/console` in the repository. The Vite manifest marks a finished build.
 */
export function findConsoleDir(): string | undefined {
  const candidates = [new URL('../console/', import.meta.url), new URL('../dist/console/', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((dir) => existsSync(join(dir, '.vite', 'manifest.json')) && existsSync(join(dir, 'index.html')));
}

/** Every servable file under `dir`, keyed by URL path below /console/ (dot-directories such as .vite skipped). */
function listFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      if (name.startsWith('.')) continue;
      const full = join(d, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.set(relative(dir, full).split(sep).join('/'), full);
    }
  };
  walk(dir);
  return out;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A small HTML page for a browser that reached the console without a credential (the JSON body is for programs). */
export function consoleRefusalPage(status: number, detail: string): string {
  return `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width"><link rel="icon" href="data:,"><title>cc-executor console: ${status}</title>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em"><h1>${status === 401 ? 'Token needed' : 'Refused'}</h1>
<p>${escapeHtml(detail)}</p><p>See docs/console.md in cc-executor.</p></body>`;
}

/** Serves the console files; one per server. The file list is read once, on first use (no path from a request touches the disk). */
export class ConsoleAssets {
  private files: Map<string, string> | undefined;
  private listedAt = 0;

  constructor(
    /** The WebSocket path the page connects to (configurable, so written into index.html as it is served). */
    private readonly wsPath: string,
    private readonly dir: string | undefined = findConsoleDir(),
  ) {}

  /** True for the paths this serves: `/`, `/console` and below. */
  static owns(path: string): boolean {
    return path === '/' || path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);
  }

  /** The file for `rel`; a miss lists the directory again (a rebuild while running), at most once a second. */
  private lookup(rel: string): string | undefined {
    if (!this.files || (!this.files.has(rel) && Date.now() - this.listedAt > RELIST_MIN_MS)) {
      this.files = listFiles(this.dir!);
      this.listedAt = Date.now();
    }
    return this.files.get(rel);
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, authToken: string | undefined): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return send(res, 405, 'application/json', JSON.stringify({ error: `method ${req.method} not allowed on ${path}` }));
    }
    const url = parseRequestUrl(req);
    // A token in the URL (already checked by the gate) becomes a cookie, and the page reloads without it, so the
    // token leaves the address bar and history. A page, not a 303: Strict cookies are not sent on a redirect
    // that a link on another site started, but are on a navigation our own page starts.
    if (authToken !== undefined && url?.searchParams.has('token')) {
      const cookie = `${consoleCookieName(req)}=${consoleCookieValue(authToken)}; Path=/; HttpOnly; SameSite=Strict`;
      const page = `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${CONSOLE_PATH}"><link rel="icon" href="data:,"><title>cc-executor console</title><a href="${CONSOLE_PATH}">Open the console</a>`;
      return send(res, 200, TYPES['.html']!, page, { 'set-cookie': cookie, 'cache-control': 'no-store' });
    }
    if (path === '/') {
      res.writeHead(302, { ...SECURITY_HEADERS, location: CONSOLE_PATH, 'content-length': 0 });
      return void res.end();
    }
    if (!this.dir) {
      return send(res, 503, 'text/plain; charset=utf-8', 'The console is not built: run `npm run build` (it builds dist/console).\n');
    }
    const rel = path === CONSOLE_PATH || path === `${CONSOLE_PATH}/` ? 'index.html' : path.slice(CONSOLE_PATH.length + 1);
    const file = this.lookup(rel);
    if (!file) return send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
    let body = await readFile(file);
    if (rel === 'index.html') {
      const meta = '<meta name="cc-executor-ws-path" content="/ws/mcp"';
      body = Buffer.from(body.toString('utf8').replace(meta, `<meta name="cc-executor-ws-path" content="${escapeHtml(this.wsPath)}"`));
    }
    // Vite puts a content hash in every asset name: those never change; index.html always revalidates.
    const cache = rel.startsWith('assets/') ? 'private, max-age=31536000, immutable' : 'no-cache';
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': body.length, 'cache-control': cache });
      return void res.end();
    }
    return send(res, 200, type, body, { 'cache-control': cache });
  }
}
