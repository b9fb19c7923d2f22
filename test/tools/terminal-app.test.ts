// The MCP App of execute results: advertised on the tool, served as one self-contained HTML resource, and rendering a
// live execution in chromium inside a real ext-apps host (AppBridge), its tool calls going to the real server.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERMINAL_APP_URI } from '../../tools/terminal-app.js';
import { browserMissing, openBrowser, type TestBrowser } from '../helpers/browser.js';
import { callTool, connectWs, GroupTracker, startTestServer, structured, waitFor, type TestServer } from '../helpers/server.js';

let server: TestServer;
let client: Client;
const groups = new GroupTracker();

beforeAll(async () => {
  server = await startTestServer();
  client = await connectWs(server.url);
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await groups.expectGroupsGone();
});

async function appHtml(): Promise<{ mimeType: string | undefined; text: string }> {
  const read = await client.readResource({ uri: TERMINAL_APP_URI });
  const content = read.contents[0] as { mimeType?: string; text: string };
  return { mimeType: content.mimeType, text: content.text };
}

describe('the terminal MCP App', () => {
  it('is advertised on execute (_meta.ui.resourceUri) and listed as a text/html;profile=mcp-app resource', async () => {
    const execute = (await client.listTools()).tools.find((t) => t.name === 'execute')!;
    expect(execute._meta).toMatchObject({ ui: { resourceUri: TERMINAL_APP_URI } });
    const listed = (await client.listResources()).resources.find((r) => r.uri === TERMINAL_APP_URI);
    expect(listed?.mimeType).toBe('text/html;profile=mcp-app');
  });

  it('reads as one self-contained HTML document: script and styles inline, nothing loaded by URL', async () => {
    const { mimeType, text } = await appHtml();
    expect(mimeType).toBe('text/html;profile=mcp-app');
    expect(text).toMatch(/^<!doctype html>/i);
    expect(text).toContain('<script type="module">');
    expect(text).toContain('<style>');
    expect(text).not.toMatch(/<script[^>]*\ssrc=/);
    expect(text).not.toMatch(/<link[^>]*\shref=/);
    // Exactly one closing script tag per script: nothing inside the code ends the element early.
    expect(text.split('</script>').length - 1).toBe(text.split('<script').length - 1);
  });

  const missing = browserMissing();
  describe.skipIf(missing !== undefined)('in a browser', () => {
    let browser: TestBrowser;
    let hostJs: string;

    beforeAll(async () => {
      browser = await openBrowser();
      // The host page's script: the ext-apps AppBridge bundled for the browser, as a host application would ship it.
      const out = await build({
        configFile: false,
        logLevel: 'silent',
        build: {
          write: false,
          minify: false,
          lib: { entry: fileURLToPath(new URL('../fixtures/mcp-app-host.ts', import.meta.url)), formats: ['iife'], name: 'host' },
        },
      });
      const outputs = (Array.isArray(out) ? out : [out]) as Array<{ output: Array<{ type: string; code?: string }> }>;
      hostJs = outputs[0]!.output.find((o) => o.type === 'chunk')!.code!;
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
    });

    it('shows the output of an execution started in the background in its terminal, following it to how it ended', async () => {
      const { page, errors } = browser;
      await page.exposeFunction('callServer', (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args }));
      await page.setContent('<!doctype html><html><body></body></html>');
      await page.addScriptTag({ content: hostJs });
      const input = {
        command: "for i in 1 2 3 4 5; do echo app-line-$i; sleep 0.4; done; printf '\\033[32mgre''en\\033[0m\\n' >&2",
        background: true,
      };
      const result = (await client.callTool({ name: 'execute', arguments: input })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      groups.addResult(result);
      const { text } = await appHtml();
      await page.evaluate(([html, i, r]) => (globalThis as unknown as { startApp(...a: unknown[]): Promise<void> }).startApp(html, i, r), [
        text,
        input,
        result,
      ] as const);
      const app = page.frameLocator('#app');
      const terminal = app.locator('.xterm-accessibility-tree');
      // xterm's screen-reader tree holds the text (visually hidden, attached).
      await terminal.waitFor({ state: 'attached', timeout: 30_000 });
      await expect.poll(() => app.locator('#app-command').innerText(), { timeout: 30_000 }).toContain('app-line-$i');
      await waitFor(async () => ((await terminal.textContent()) ?? '').includes('app-line-5'), 30_000, 'the last line');
      await expect.poll(() => app.locator('#app-state').innerText(), { timeout: 30_000 }).toBe('finished · exit 0');
      // xterm renders (and updates its screen-reader tree) after the state line changes: wait for the last output.
      await waitFor(async () => ((await terminal.textContent()) ?? '').includes('green'), 30_000, 'the final output');
      const shown = (await terminal.textContent()) ?? '';
      for (const n of [1, 2, 3, 4, 5]) expect(shown).toContain(`app-line-${n}`);
      expect(shown).toContain('green');
      expect(structured(await callTool(client, 'status', { id: structured(result).id })).exitCode).toBe(0);
      expect(errors).toEqual([]);
    }, 120_000);
  });
});
