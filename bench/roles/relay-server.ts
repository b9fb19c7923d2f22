// Role: the baseline. A bare `ws` server that runs a command and relays its stdout as JSON text frames, with plain back-pressure.
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { answer, runRoleMain } from '../lib/role-side.js';

// Same marks as cc-executor's defaults (highWaterBytes / lowWaterBytes), so both relays buffer alike.
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;

runRoleMain(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

  wss.on('connection', (ws) => {
    ws.once('message', (raw) => {
      const { command } = JSON.parse(String(raw)) as { command: string };
      const child = spawn('/bin/bash', ['-c', command], { stdio: ['ignore', 'pipe', 'ignore'] });
      const out = child.stdout;
      let pending = 0;
      let paused = false;
      out.on('data', (chunk: Buffer) => {
        const frame = JSON.stringify({ data: chunk.toString('utf8') });
        pending += frame.length;
        ws.send(frame, () => {
          pending -= frame.length;
          if (paused && pending <= LOW_WATER_BYTES) {
            paused = false;
            out.resume();
          }
        });
        if (!paused && pending > HIGH_WATER_BYTES) {
          paused = true;
          out.pause();
        }
      });
      child.once('close', (code) => ws.send(JSON.stringify({ end: true, exitCode: code })));
      ws.once('close', () => child.kill('SIGKILL'));
    });
  });
  const { port } = wss.address() as AddressInfo;
  await answer({ type: 'ready', url: `ws://127.0.0.1:${port}`, pid: process.pid });
});
