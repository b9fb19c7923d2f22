// The MCP App of execute results (issue 20): the built terminal view (dist/mcp-app) as one self-contained HTML resource.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { RESOURCE_MIME_TYPE, RESOURCE_URI_META_KEY } from '@modelcontextprotocol/ext-apps/server';

/** The resource hosts render for `execute` results. */
export const TERMINAL_APP_URI = 'ui://cc-executor/terminal.html';

/**
 * The built app: `dist/mcp-app` next to the compiled server, or in the repository when the server runs from source
 * (tests). Undefined when it was not built (then no tool advertises it).
 */
function findAppDir(): string | undefined {
  const candidates = [new URL('../mcp-app/', import.meta.url), new URL('../dist/mcp-app/', import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}

/**
 * One HTML document with its script and style sheet inline: hosts render the resource in a sandboxed frame that
 * loads nothing by URL. `<` is escaped in the script so no `</script>` inside it can end the element early.
 */
export function inlineAppHtml(dir: string): string {
  let html = readFileSync(join(dir, 'index.html'), 'utf8');
  html = html.replace(/<script type="module" crossorigin src="\.\/([^"]+)"><\/script>/g, (_m, file: string) => {
    const code = readFileSync(join(dir, file), 'utf8').replace(/<(\/script|!--)/gi, '\\x3C$1');
    return `<script type="module">${code}</script>`;
  });
  html = html.replace(/<link rel="stylesheet" crossorigin href="\.\/([^"]+)">/g, (_m, file: string) => {
    return `<style>${readFileSync(join(dir, file), 'utf8')}</style>`;
  });
  if (/\s(src|href)="\.\//.test(html)) throw new Error(`the MCP App in ${dir} still references a file: rebuild it`);
  return html;
}

/** What the execute tool's `_meta` carries when the app is served (both the current and the older flat key). */
export function terminalAppToolMeta(): Record<string, unknown> {
  return { ui: { resourceUri: TERMINAL_APP_URI }, [RESOURCE_URI_META_KEY]: TERMINAL_APP_URI };
}

/**
 * Register the resource when the app was built; returns whether it was (the execute tool advertises it only then).
 * The HTML is put together on each read (hosts read it once per conversation; three small files).
 */
export function registerTerminalApp(server: McpServer): boolean {
  const dir = findAppDir();
  if (!dir) return false;
  server.registerResource(
    'terminal-app',
    TERMINAL_APP_URI,
    {
      title: 'Execution terminal',
      description: "The terminal view of one execute result (an MCP App): the command's output as a terminal shows it, following live.",
      mimeType: RESOURCE_MIME_TYPE,
    },
    (uri) => {
      // No network at all: the app talks to the server only through the host (postMessage).
      const meta = { ui: { csp: { connectDomains: [], resourceDomains: [] } } };
      return { contents: [{ uri: uri.href, mimeType: RESOURCE_MIME_TYPE, text: inlineAppHtml(dir), _meta: meta }] };
    },
  );
  return true;
}
