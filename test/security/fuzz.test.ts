// Hostile input over real sockets against the real binary: seeded frames of every kind, a healthy SDK session
// alongside, the server alive afterwards. Memory is logged, not asserted: a bound on it is a timing-dependent
// figure (GC, load), so it lives in the bench. FUZZ_FRAMES and FUZZ_SEED reproduce a run.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { callTool, connectWs, GroupTracker, structured } from '../helpers/server.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { createPrng, generateFrame, type Frame, type FuzzContext } from './fuzz-frames.js';

const FRAMES = Math.max(1, Number(process.env.FUZZ_FRAMES ?? 2_000));
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const LANES = 4;
const MAX_PAYLOAD_BYTES = 64 * 1024;
const TOKEN = 'fuzz-token-7c9e4b1a2d3f5e6a';
const REPLY_TIMEOUT_MS = 20_000;
const SETTLE_MS = 3_000;
/** Share of frames that are connection-level events (half-closed sockets) instead of a frame on an open session. */
const HALF_CLOSE_SHARE = 0.01;
/** Failures after which the run stops: enough to diagnose, without waiting out a timeout per broken frame. */
const MAX_FAILURES = 10;
const MAX_HEALTHY_ERRORS = 5;

type Event = { type: 'message'; msg: any } | { type: 'close'; code: number } | { type: 'timeout' };

/** One raw WebSocket session whose incoming messages and close are read in order. */
class Conn {
  private readonly events: Event[] = [];
  private wake: (() => void) | undefined;
  closed = false;
  /** Server notifications received (set aside, not replies). */
  notifications = 0;
  /** Sessions that never initialize get -32600 for every request but ping. */
  initialized = false;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      let msg: unknown;
      try {
        msg = JSON.parse(String(data));
      } catch {
        msg = { unparseable: String(data).slice(0, 200), isBinary };
      }
      // Notifications the server sends on its own (resources/list_changed when any session starts a command)
      // answer nothing: a client handles them aside, and so does this one.
      const m = msg as { method?: unknown; id?: unknown };
      if (typeof m.method === 'string' && m.method.startsWith('notifications/') && m.id === undefined) {
        this.notifications++;
        return;
      }
      this.push({ type: 'message', msg });
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.push({ type: 'close', code });
    });
    ws.on('error', () => undefined); // a close follows
  }

  private push(e: Event): void {
    this.events.push(e);
    this.wake?.();
  }

  static open(url: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, ['mcp'], { maxPayload: 64 * 1024 * 1024 });
      const conn = new Conn(ws);
      ws.once('open', () => resolve(conn));
      ws.once('error', reject);
    });
  }

  send(data: string | Buffer, binary = false): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data, { binary });
  }

  async next(timeoutMs = REPLY_TIMEOUT_MS): Promise<Event> {
    const until = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      const left = until - Date.now();
      if (left <= 0) return { type: 'timeout' };
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.events.shift()!;
  }

  close(): void {
    this.ws.terminate();
  }
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN) * 1024;
}

/**
 * Full garbage collection in the server, from outside: SIGUSR1 opens its inspector (on the random port
 * NODE_OPTIONS=--inspect-port=0 chose), then HeapProfiler.collectGarbage. Without it, RSS mostly says how
 * lazily V8 collected, not what the server holds. Returns the heap in use afterwards.
 */
async function collectGarbage(server: ServerProcess): Promise<number> {
  const find = () => /Debugger listening on (ws:\/\/\S+)/.exec(server.stderr())?.[1];
  if (!find()) server.child.kill('SIGUSR1');
  const until = Date.now() + 10_000;
  while (!find() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  const ws = new WebSocket(find()!);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let nextId = 1;
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<any>((resolve) => {
      const id = nextId++;
      const onMessage = (data: WebSocket.RawData) => {
        const msg = JSON.parse(String(data));
        if (msg.id !== id) return;
        ws.off('message', onMessage);
        resolve(msg.result);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('HeapProfiler.collectGarbage');
  await send('HeapProfiler.collectGarbage');
  const used = await send('Runtime.evaluate', { expression: 'process.memoryUsage().heapUsed', returnByValue: true });
  ws.close();
  return Number(used?.result?.value);
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

/** Resolves when the server has closed a socket we half-closed, false if it kept it open. */
function closedWithin(socket: import('node:net').Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

const sameId = (a: unknown, b: unknown) => a === b || (typeof a === 'number' && typeof b === 'number' && Object.is(a + 0, b + 0));
const preview = (data: Array<string | Buffer>) =>
  data
    .map((d) => String(d))
    .join(' | ')
    .slice(0, 240);

interface Failure {
  lane: number;
  index: number;
  category: string;
  why: string;
  frame: string;
}

let proc: ServerProcess | undefined;
let healthy: Client | undefined;
/** Cleared when the test ends however it ends, so no loop outlives it. */
let running = false;
let dir: string | undefined;
const groups = new GroupTracker();

afterEach(async () => {
  running = false;
  await healthy?.close().catch(() => undefined);
  healthy = undefined;
  if (proc && proc.child.exitCode === null) {
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
  proc?.kill();
  proc = undefined;
  await groups.expectGroupsGone();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
}, 120_000); // a SIGTERM'd server with hundreds of finished groups, on a loaded machine

describe('hostile input', () => {
  it(
    'answers every generated frame with a JSON-RPC error, a tool result or a documented close, while a healthy session keeps working',
    { timeout: 60_000 + FRAMES * 250 },
    async () => {
      console.log(`fuzz: ${FRAMES} frames over ${LANES} lanes, seed ${SEED} (reproduce with FUZZ_FRAMES=${FRAMES} FUZZ_SEED=${SEED})`);
      dir = realpathSync(mkdtempSync(join(tmpdir(), 'ccx-fuzz-')));
      const cwd = join(dir, 'work');
      mkdirSync(cwd);
      proc = await spawnServer(
        [
          '--max-payload-bytes',
          String(MAX_PAYLOAD_BYTES),
          '--allowed-cwd-roots',
          cwd,
          '--data-dir',
          join(dir, 'data'),
          '--log-level',
          'info',
          '--max-output-bytes',
          String(1024 * 1024),
        ],
        { CC_EXECUTOR_TOKEN: TOKEN, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --inspect-port=0`.trim() },
      );
      const server = proc;
      const pid = server.child.pid!;
      const url = `${server.url}?token=${TOKEN}`;
      const base = server.url.replace(/^ws:/, 'http:').replace(/\/ws\/mcp$/, '');
      const port = Number(new URL(server.url).port);

      // The healthy session: an SDK client running real commands for as long as the fuzzing lasts.
      healthy = await connectWs(url);
      const healthyErrors: string[] = [];
      let healthyOk = 0;
      running = true;
      let fuzzing = true;
      const healthyLoop = (async () => {
        for (let i = 0; fuzzing && running && healthyErrors.length < MAX_HEALTHY_ERRORS; i++) {
          const text = `healthy-${i}`;
          try {
            const r = await callTool(healthy, 'execute', { argv: ['echo', text], cwd });
            groups.addResult(r);
            if (structured(r).stdout === `${text}\n`) healthyOk++;
            else {
              const { stdout, stderr, exitCode, terminationReason, truncated } = structured(r);
              healthyErrors.push(
                `call ${i}: ${JSON.stringify({ stdout, stderr, exitCode, terminationReason, truncated, text: r.content })}`.slice(0, 1200),
              );
            }
          } catch (e) {
            healthyErrors.push(`call ${i}: ${(e as Error).message}`);
          }
        }
      })();

      const failures: Failure[] = [];
      const categories = new Map<string, number>();
      const closes = new Map<number, number>();
      let connections = 0;
      let sent = 0;

      async function openConn(rand: () => number, lane: number): Promise<Conn> {
        const conn = await Conn.open(url);
        connections++;
        // Most sessions initialize first; the rest send everything before `initialize`.
        if (rand() < 0.8) {
          conn.send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: `init-${lane}`,
              method: 'initialize',
              params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '0' } },
            }),
          );
          const e = await conn.next();
          if (e.type !== 'message' || e.msg.result?.serverInfo?.name !== 'cc-executor')
            throw new Error(`initialize failed: ${JSON.stringify(e)}`);
          conn.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
          conn.initialized = true;
        }
        return conn;
      }

      async function halfClose(rand: () => number): Promise<string | undefined> {
        const variant = Math.floor(rand() * 3);
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        socket.on('data', () => undefined);
        await new Promise((r) => socket.once('connect', r));
        const handshake =
          `GET /ws/mcp?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mcp\r\n\r\n';
        if (variant === 0) {
          socket.end(handshake.slice(0, Math.floor(rand() * (handshake.length - 4)) + 1)); // headers cut short, then FIN
        } else {
          socket.write(handshake);
          const upgraded = await new Promise<string>((resolve) => socket.once('data', (d) => resolve(String(d))));
          if (!upgraded.startsWith('HTTP/1.1 101')) return `upgrade refused: ${upgraded.slice(0, 80)}`;
          // A text frame header announcing 100 masked bytes, then only part of it, then FIN; or a whole ping then FIN.
          const frame =
            variant === 1
              ? Buffer.from([0x81, 0x80 | 100, 1, 2, 3, 4, 0x7b, 0x22])
              : maskedText('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"status","arguments":{}}}');
          socket.end(frame);
        }
        return (await closedWithin(socket, 15_000)) ? undefined : `variant ${variant}: server kept a half-closed socket open`;
      }

      async function runLane(lane: number, count: number, rand: () => number, ctx: FuzzContext, state: { conn?: Conn }) {
        for (let index = 0; index < count && running && failures.length < MAX_FAILURES; index++) {
          if (rand() < HALF_CLOSE_SHARE) {
            categories.set('half-close', (categories.get('half-close') ?? 0) + 1);
            sent++;
            const problem = await halfClose(rand);
            if (problem) failures.push({ lane, index, category: 'half-close', why: problem, frame: '' });
            continue;
          }
          if (!state.conn || state.conn.closed) state.conn = await openConn(rand, lane);
          const conn = state.conn;
          const frame = generateFrame(ctx);
          categories.set(frame.category.split(':')[0]!, (categories.get(frame.category.split(':')[0]!) ?? 0) + 1);
          for (const d of frame.data) conn.send(d, frame.binary === true);
          sent += frame.data.length;
          const why = await check(conn, frame, ctx, lane);
          if (why) {
            failures.push({ lane, index, category: frame.category, why, frame: preview(frame.data) });
            conn.close(); // start clean after a failure so one problem is not reported a hundred times
            state.conn = undefined;
          }
        }
      }

      let sentinel = 0;
      async function check(conn: Conn, frame: Frame, ctx: FuzzContext, lane: number): Promise<string | undefined> {
        const exp = frame.expect;
        if (exp.kind === 'close') {
          const e = await conn.next();
          if (e.type === 'close') closes.set(e.code, (closes.get(e.code) ?? 0) + 1);
          return e.type === 'close' && e.code === exp.code
            ? undefined
            : `expected close ${exp.code}, got ${JSON.stringify(e).slice(0, 300)}`;
        }
        if (exp.kind === 'none') {
          const id = `sentinel-${lane}-${sentinel++}`;
          conn.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }));
          const e = await conn.next();
          return e.type === 'message' && e.msg.id === id && e.msg.result !== undefined
            ? undefined
            : `expected no reply (then the sentinel ping's), got ${JSON.stringify(e).slice(0, 300)}`;
        }
        const wanted = exp.kind === 'replies' ? exp.count : 1;
        for (let i = 0; i < wanted; i++) {
          const e = await conn.next();
          if (e.type !== 'message') return `expected a reply, got ${JSON.stringify(e)}`;
          const msg = e.msg;
          if (msg.jsonrpc !== '2.0' || (msg.result === undefined) === (msg.error === undefined)) {
            return `not a JSON-RPC response: ${JSON.stringify(msg).slice(0, 300)}`;
          }
          if (msg.error !== undefined && (typeof msg.error.code !== 'number' || typeof msg.error.message !== 'string')) {
            return `malformed error: ${JSON.stringify(msg.error).slice(0, 300)}`;
          }
          const expectedId = exp.id;
          const idOk = sameId(msg.id, expectedId) || (exp.kind === 'reply' && exp.orNull === true && msg.id === null);
          if (!idOk)
            return `reply id ${JSON.stringify(msg.id)}, expected ${JSON.stringify(expectedId)}: ${JSON.stringify(msg).slice(0, 200)}`;
          // Before initialize, every request but ping is refused (the id must still match).
          if (!conn.initialized && msg.error?.code === -32600) continue;
          const sc = msg.result?.structuredContent;
          if (sc?.pgid) groups.add(sc.pgid);
          if (typeof sc?.id === 'string' && sc.pgid && ctx.knownIds.length < 200) ctx.knownIds.push(sc.id);
          if (exp.kind === 'reply' && exp.mustFail && msg.error === undefined && msg.result?.isError !== true) {
            return `accepted input that must be refused: ${JSON.stringify(msg).slice(0, 300)}`;
          }
          if (exp.kind === 'reply' && exp.stdout !== undefined && sc?.stdout !== exp.stdout) {
            return `stdout ${JSON.stringify(sc?.stdout)} instead of ${JSON.stringify(exp.stdout)}: ${JSON.stringify(msg).slice(0, 300)}`;
          }
        }
        return undefined;
      }

      // Lanes keep their PRNG, context and connection across both phases: the frame sequence depends only on the seed.
      const lanes = Array.from({ length: LANES }, (_, lane) => {
        const rand = createPrng(SEED + lane * 0x9e3779b9);
        let n = 0;
        const ctx: FuzzContext = { rand, cwd, knownIds: [], nextId: () => `f-${lane}-${n++}`, maxPayloadBytes: MAX_PAYLOAD_BYTES };
        const state: { conn?: Conn } = {};
        return { lane, rand, ctx, state };
      });
      const share = (total: number, lane: number) => Math.floor(total / LANES) + (lane < total % LANES ? 1 : 0);
      const warmup = Math.min(FRAMES, Math.max(LANES, Math.floor(FRAMES * 0.15)));
      const started = Date.now();

      // Phase 1 warms the server up (JIT, heap, pools); memory is measured from its end.
      let heapBefore = NaN;
      let rssBefore = NaN;
      try {
        await Promise.all(lanes.map((l) => runLane(l.lane, share(warmup, l.lane), l.rand, l.ctx, l.state)));
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        heapBefore = await collectGarbage(server);
        await new Promise((r) => setTimeout(r, 1_000));
        rssBefore = rssBytes(pid);
        await Promise.all(lanes.map((l) => runLane(l.lane, share(FRAMES - warmup, l.lane), l.rand, l.ctx, l.state)));
      } finally {
        for (const l of lanes) l.state.conn?.close();
        fuzzing = false;
        await healthyLoop;
      }
      expect(failures.slice(0, MAX_FAILURES), `${failures.length} failures (seed ${SEED})`).toEqual([]);
      const seconds = (Date.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const heapAfter = await collectGarbage(server);
      await new Promise((r) => setTimeout(r, 1_000));
      const rssAfter = rssBytes(pid);

      const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
      console.log(
        `fuzz: ${FRAMES} frames (${sent} messages) in ${seconds.toFixed(1)} s over ${connections} connections; ` +
          `closes ${JSON.stringify(Object.fromEntries(closes))}; healthy calls ${healthyOk}; ` +
          `RSS ${mib(rssBefore)} -> ${mib(rssAfter)} MiB, heap ${mib(heapBefore)} -> ${mib(heapAfter)} MiB; by kind ${JSON.stringify(Object.fromEntries([...categories].sort()))}`,
      );

      expect(server.child.exitCode, 'server still running').toBeNull();
      expect(await httpStatus(`${base}/healthz?token=${TOKEN}`)).toBe(200);
      expect(healthyErrors.slice(0, 5)).toEqual([]);
      expect(healthyOk).toBeGreaterThan(0);
      expect(server.stderr()).not.toMatch(/uncaught|"level":60/);
      expect(server.stderr()).not.toContain(TOKEN);

      // Orderly stop: every group the run started dies with the server.
      await healthy.close();
      healthy = undefined;
      server.child.kill('SIGTERM');
      expect((await server.exited).code).toBe(0);
    },
  );
});

/** A masked (client-to-server) text frame with a payload under 126 bytes. */
function maskedText(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = Buffer.from([9, 8, 7, 6]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}
