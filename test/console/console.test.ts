// The console in a real browser (Debian chromium via playwright-core) against a real server, steered by real SDK clients.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listGroupMembers } from '../../src/backends/local/proc.js';
import { browserMissing, openBrowser, type TestBrowser } from '../helpers/browser.js';
import { callTool, isGroupStopped, structured, waitFor, type GroupTracker } from '../helpers/server.js';
import { useTestServer } from '../helpers/use-test-server.js';

const missing = browserMissing();
if (missing) console.warn(missing);

/** Generous: chromium and the server share two loaded cores with other suites. */
const UI_MS = 20_000;

const TICKER = 'i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.2; done';

function row(page: Page, text: string) {
  return page.locator('#execution-list li', { hasText: text });
}

async function terminalText(page: Page): Promise<string> {
  return page.locator('.xterm-accessibility-tree').innerText();
}

/** The highest tick number the terminal shows. */
async function lastTick(page: Page): Promise<number> {
  const ticks = [...(await terminalText(page)).matchAll(/tick-(\d+)/g)].map((m) => Number(m[1]));
  return ticks.length ? Math.max(...ticks) : 0;
}

/** Background executions a test started: killed after each test whatever happened, then checked gone. */
const started: string[] = [];

async function startBackground(client: Client, command: string, groups: GroupTracker): Promise<{ id: string; pgid: number }> {
  const r = await callTool(client, 'execute', { command, background: true, timeoutMs: 120_000 });
  groups.addResult(r);
  started.push(structured(r).id);
  return { id: structured(r).id, pgid: structured(r).pgid };
}

async function openExecution(page: Page, marker: string): Promise<void> {
  await row(page, marker).waitFor({ timeout: UI_MS });
  await row(page, marker).getByRole('button').click();
  await page.getByRole('heading', { name: 'Execution', exact: true }).waitFor({ timeout: UI_MS });
}

describe.skipIf(missing !== undefined)('console in a browser', () => {
  // One server and SDK client for these tests; after each, its process groups must be gone (10 s: chromium shares the cores).
  const fx = useTestServer({ scope: 'file', groupsGoneMs: 10_000 });
  const groups = fx.groups;
  let browser: TestBrowser;

  beforeAll(async () => {
    browser = await openBrowser();
  }, 90_000);

  // Registered after the fixture, so it runs first: what a failed test left running is killed before the group check.
  afterEach(async () => {
    for (const id of started.splice(0)) await callTool(fx.client, 'control', { id, action: 'kill' }).catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('lists a command an SDK client starts within a second or so, and shows its output in the terminal view', async () => {
    const { page } = browser;
    await page.goto(`${fx.server.net.baseUrl}/`);
    expect(new URL(page.url()).pathname).toBe('/console');
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: UI_MS });
    const started = Date.now();
    const { id } = await startBackground(fx.client, `echo visible-marker; ${TICKER}`, groups);
    await row(page, 'visible-marker').waitFor({ timeout: UI_MS });
    const appearedMs = Date.now() - started;
    // The list hears of new executions by resource subscription; the 1 s poll is the fallback.
    expect(appearedMs, 'time until the row appeared').toBeLessThan(5_000);
    await expect.poll(() => row(page, 'visible-marker').locator('.state').innerText()).toBe('running');
    await openExecution(page, 'visible-marker');
    await waitFor(async () => (await terminalText(page)).includes('visible-marker'), UI_MS, 'the output in the terminal');
    // Following live: new ticks keep arriving.
    const seen = await lastTick(page);
    await waitFor(async () => (await lastTick(page)) > seen + 2, UI_MS, 'live output to follow');
    await callTool(fx.client, 'control', { id, action: 'kill' });
    expect(browser.errors).toEqual([]);
  }, 90_000);

  it('Pause stops every process of the command (state T) and Resume lets it continue', async () => {
    const { page } = browser;
    const { id, pgid } = await startBackground(fx.client, `echo pause-marker; ${TICKER}`, groups);
    await openExecution(page, 'pause-marker');
    await waitFor(async () => (await lastTick(page)) >= 2, UI_MS, 'ticks before pausing');

    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await waitFor(
      () => {
        return listGroupMembers(pgid).length > 0 && isGroupStopped(pgid);
      },
      UI_MS,
      'every member stopped',
    );
    await page.locator('#detail-facts', { hasText: 'paused' }).waitFor({ timeout: UI_MS });
    expect(await page.getByRole('button', { name: 'Resume', exact: true }).isEnabled()).toBe(true);

    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await waitFor(() => listGroupMembers(pgid).every((m) => m.state !== 'T'), UI_MS, 'members continued');
    const resumedAt = await lastTick(page);
    await waitFor(async () => (await lastTick(page)) > resumedAt + 2, UI_MS, 'output after resume');
    expect(structured(await callTool(fx.client, 'status', { id })).state).toBe('running');
    await callTool(fx.client, 'control', { id, action: 'kill' });
  }, 90_000);

  it('Cancel ends the command with reason cancel', async () => {
    const { page } = browser;
    const { id } = await startBackground(fx.client, `echo cancel-marker; ${TICKER}`, groups);
    await openExecution(page, 'cancel-marker');
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', UI_MS, 'the command to end');
    expect(structured(await callTool(fx.client, 'status', { id })).terminationReason).toBe('cancel');
    await page.locator('#detail-facts', { hasText: 'cancel' }).waitFor({ timeout: UI_MS });
    await page.locator('#detail-facts', { hasText: 'finished' }).waitFor({ timeout: UI_MS });
  }, 90_000);

  it('Kill asks first: keeping it running changes nothing, confirming kills with reason kill', async () => {
    const { page } = browser;
    const { id } = await startBackground(fx.client, `echo kill-marker; ${TICKER}`, groups);
    await openExecution(page, 'kill-marker');
    await page.getByRole('button', { name: 'Kill', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Kill this execution?' });
    await dialog.waitFor({ timeout: UI_MS });
    await dialog.getByRole('button', { name: 'Keep it running' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_MS });
    expect(structured(await callTool(fx.client, 'status', { id })).state).toBe('running');

    await page.getByRole('button', { name: 'Kill', exact: true }).click();
    await dialog.getByRole('button', { name: 'Kill now' }).click();
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', UI_MS, 'the kill');
    const final = structured(await callTool(fx.client, 'status', { id }));
    expect(final.terminationReason).toBe('kill');
    expect(final.signal).toBe('SIGKILL');
  }, 90_000);

  it('the signal menu sends the chosen signal to the command', async () => {
    const { page } = browser;
    const { id } = await startBackground(fx.client, `trap 'echo got-usr1' USR1; echo signal-marker; ${TICKER}`, groups);
    await openExecution(page, 'signal-marker');
    await waitFor(async () => (await lastTick(page)) >= 1, UI_MS, 'the trap to be set');
    await page.getByLabel('Signal', { exact: true }).selectOption('SIGUSR1');
    await page.getByRole('button', { name: 'Send signal' }).click();
    await waitFor(async () => (await terminalText(page)).includes('got-usr1'), UI_MS, 'the trap to print');
    await callTool(fx.client, 'control', { id, action: 'kill' });
  }, 90_000);

  it('shows stderr in red and stdout in its own colours', async () => {
    const { page } = browser;
    const r = await callTool(fx.client, 'execute', { command: "printf '\\033[32mgreen-out\\033[0m\\n'; echo red-err >&2; echo plain-out" });
    expect(structured(r).exitCode).toBe(0);
    await openExecution(page, 'green-out');
    await page.locator('.xterm-rows span.xterm-fg-1', { hasText: 'red-err' }).waitFor({ timeout: UI_MS });
    await page.locator('.xterm-rows span.xterm-fg-2', { hasText: 'green-out' }).waitFor({ timeout: UI_MS });
    expect(await page.locator('.xterm-rows span.xterm-fg-1', { hasText: 'plain-out' }).count()).toBe(0);
  }, 90_000);

  it('finds a finished run by searching history, and hides runs that do not match', async () => {
    const { page } = browser;
    await callTool(fx.client, 'execute', { command: 'echo needle-7f3a' });
    await callTool(fx.client, 'execute', { command: 'echo haystack-only' });
    await page.getByLabel('Search history').fill('needle-7f3a');
    await row(page, 'needle-7f3a').waitFor({ timeout: UI_MS });
    await waitFor(async () => (await row(page, 'haystack-only').count()) === 0, UI_MS, 'non-matching runs to leave the list');
    await expect.poll(() => row(page, 'needle-7f3a').locator('.state').innerText()).toBe('finished');
    await row(page, 'needle-7f3a').getByRole('button').click();
    await waitFor(async () => (await terminalText(page)).includes('needle-7f3a'), UI_MS, 'the finished output');
    await page.getByLabel('Search history').fill('');
  }, 90_000);

  it('opens a long log at its tail and loads earlier windows on request, never the whole log', async () => {
    const { page } = browser;
    // About 3.7 MB: 60000 numbered lines of 61 bytes.
    const r = await callTool(fx.client, 'execute', { command: "seq -w 1 60000 | sed 's/$/ padding-padding-padding-padding-padding-pad/'" });
    expect(structured(r).stdoutBytes).toBeGreaterThanOrEqual(3_000_000);
    await openExecution(page, 'seq -w 1 60000');
    await waitFor(async () => (await terminalText(page)).includes('60000 padding'), UI_MS, 'the tail');
    const earlier = page.getByRole('button', { name: 'Load earlier output' });
    await earlier.waitFor({ timeout: UI_MS });
    await earlier.click();
    // The view redraws from the new start, scrolled to the top: a line well before the tail, far after line 1.
    await waitFor(
      async () => {
        const first = /(\d{5}) padding/.exec(await terminalText(page));
        const n = first ? Number(first[1]) : 0;
        return n > 40_000 && n < 56_000;
      },
      UI_MS,
      'an earlier window',
    );
    expect(await earlier.isVisible()).toBe(true);
  }, 90_000);

  /** Start `command` as an interactive execution (background) and open it in the console page. */
  async function startInteractive(page: Page, command: string, extra: Record<string, unknown>): Promise<string> {
    // Its own page load: the test must not depend on an earlier one having opened the console.
    await page.goto(`${fx.server.net.baseUrl}/console`);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: UI_MS });
    const r = await callTool(fx.client, 'execute', { command, background: true, timeoutMs: 120_000, ...extra });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    groups.addResult(r);
    const id = structured(r).id as string;
    started.push(id);
    await openExecution(page, command.slice(0, 20));
    return id;
  }

  const waiting = async (id: string) => structured(await callTool(fx.client, 'status', { id })).waitingForInput === true;

  async function typeWithTypo(page: Page): Promise<void> {
    await page.locator('#terminal').click();
    // A typo fixed with Backspace: the command sees the edited line.
    await page.keyboard.type('wordl');
    await page.keyboard.press('Backspace');
    await page.keyboard.press('Backspace');
    await page.keyboard.type('ld');
    await page.keyboard.press('Enter');
  }

  // bash prints a `read -p` prompt only when its stdin is a terminal: on a pipe the page shows that the command
  // waits (the state and the note), and echoes and edits the line itself.
  it('typing in the terminal answers a read -p prompt of an interactive execution on a pipe', async () => {
    const { page } = browser;
    const id = await startInteractive(page, 'read -p "your name? " name; echo "hello, $name"; read -p "again? " x; echo "bye $x"', {
      interactive: true,
    });
    await page.locator('#input-note', { hasText: 'waits for input' }).waitFor({ timeout: UI_MS });
    await page.locator('#input-note', { hasText: 'Enter sends the line' }).waitFor({ timeout: UI_MS });
    await expect.poll(() => page.locator('#detail-facts').innerText(), { timeout: UI_MS }).toContain('waiting for input');
    await typeWithTypo(page);
    await waitFor(async () => (await terminalText(page)).includes('hello, world'), UI_MS, 'the answer');
    await waitFor(() => waiting(id), UI_MS, 'the second read');
    await page.keyboard.type('now');
    await page.keyboard.press('Enter');
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', UI_MS, 'the end');
    const final = structured(await callTool(fx.client, 'status', { id }));
    expect(final.exitCode).toBe(0);
    expect(final.stdout).toContain('hello, world\nbye now');
    expect(final.input).toMatchObject({ writes: 2, bytes: 'world\nnow\n'.length });
  }, 90_000);

  it('typing in the terminal of a PTY execution goes to its terminal as keys, and the terminal takes the view size', async () => {
    const { page } = browser;
    const id = await startInteractive(
      page,
      'read -p "pty name? " name; echo "hello, $name"; read -p "pty again? " x; echo "bye $x"; stty size',
      { pty: { cols: 20, rows: 5 } },
    );
    await waitFor(async () => (await terminalText(page)).includes('pty name?'), UI_MS, 'the prompt');
    await page.locator('#input-note', { hasText: 'a terminal' }).waitFor({ timeout: UI_MS });
    // The remote terminal follows the view's size (xterm fitted to the page), not the 20x5 it started with.
    const view = await page.locator('#terminal .xterm-rows > div').count();
    expect(view).toBeGreaterThan(5);
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).pty?.rows === view, UI_MS, 'the resize');
    await typeWithTypo(page);
    await waitFor(async () => (await terminalText(page)).includes('hello, world'), UI_MS, 'the answer');
    await waitFor(async () => (await terminalText(page)).includes('pty again?'), UI_MS, 'the second prompt');
    await page.keyboard.type('now');
    await page.keyboard.press('Enter');
    await waitFor(async () => structured(await callTool(fx.client, 'status', { id })).state === 'exited', UI_MS, 'the end');
    const final = structured(await callTool(fx.client, 'status', { id }));
    expect(final.exitCode).toBe(0);
    expect(final.stdout).toContain('bye now');
    const size = structured(await callTool(fx.client, 'status', { id })).pty as { cols: number; rows: number };
    expect(final.stdout).toContain(`${size.rows} ${size.cols}`);
    expect(size.cols).toBeGreaterThan(20);
  }, 90_000);

  it('fits a phone-width screen without sideways scrolling, controls in reach', async () => {
    const phone = await openBrowser({ width: 390, height: 844 });
    try {
      const { id } = await startBackground(fx.client, `echo phone-marker; ${TICKER}`, groups);
      await phone.page.goto(`${fx.server.net.baseUrl}/console`);
      await openExecution(phone.page, 'phone-marker');
      const widths = await phone.page.locator('html').evaluate((html) => ({ scroll: html.scrollWidth, client: html.clientWidth }));
      expect(widths.scroll).toBeLessThanOrEqual(widths.client);
      const box = await phone.page.getByRole('button', { name: 'Kill', exact: true }).boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x + box!.width).toBeLessThanOrEqual(390);
      await callTool(fx.client, 'control', { id, action: 'kill' });
    } finally {
      await phone.close();
    }
  }, 90_000);
});

describe.skipIf(missing !== undefined)('console behind a token', () => {
  // The server (no client: it would need the token) is closed after the test.
  const fx = useTestServer();
  let browser: TestBrowser;

  beforeAll(async () => {
    browser = await openBrowser();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('answers 401 without the token; ?token= once sets an HttpOnly SameSite=Strict cookie, drops the token from the URL and loads', async () => {
    const { page, context } = browser;
    const server = await fx.start({ authToken: 'console-test-token' });
    const refused = await page.goto(`${server.net.baseUrl}/console`);
    expect(refused?.status()).toBe(401);
    expect(await page.getByRole('heading', { name: 'Token needed' }).isVisible()).toBe(true);

    await page.goto(`${server.net.baseUrl}/console?token=console-test-token`);
    await page.waitForURL((u) => u.pathname === '/console' && !u.search.includes('token'), { timeout: UI_MS });
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: UI_MS });
    const cookies = await context.cookies(server.net.baseUrl);
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookies[0]!.value).not.toContain('console-test-token');
    // A reload needs no token in the URL any more.
    const again = await page.reload();
    expect(again?.status()).toBe(200);
    await page.locator('#connection[data-state="connected"]').waitFor({ timeout: UI_MS });

    // A wrong token is refused and sets nothing.
    await context.clearCookies();
    const wrong = await page.goto(`${server.net.baseUrl}/console?token=wrong`);
    expect(wrong?.status()).toBe(401);
    expect(await context.cookies(server.net.baseUrl)).toEqual([]);
    expect(browser.errors.filter((e) => !e.includes('401'))).toEqual([]);
  }, 90_000);
});
