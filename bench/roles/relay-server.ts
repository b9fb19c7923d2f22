// Role: the baseline. A bare `ws` server that runs a command and relays its stdout as JSON text frames, with plain back-pressure.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { answer, runRoleMain } from '../lib/role-side.js';

// Same marks as cc-executor's defaults (highWaterBytes / lowWaterBytes), so both relays buffer alike.
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
/** cc-executor's log writer reports itself full above this many unwritten bytes (output-files.ts). */
const FILE_HIGH_WATER_BYTES = 4 * 1024 * 1024;

runRoleMain(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

  wss.on('connection', (ws) => {
    ws.once('message', (raw) => {
      // logFile: the relay also writes every byte to a file, as cc-executor writes its logs (the fair baseline
      // for the server's own share of the work).
      const { command, logFile } = JSON.parse(String(raw)) as { command: string; logFile?: string };
      const child = spawn('/bin/bash', ['-c', command], { stdio: ['ignore', 'pipe', 'ignore'] });
      const out = child.stdout;
      const file = logFile ? createWriteStream(logFile) : null;
      let pending = 0;
      let paused = false;
      const resumeIfDrained = () => {
        if (paused && pending <= LOW_WATER_BYTES && (file === null || file.writableLength <= FILE_HIGH_WATER_BYTES)) {
          paused = false;
          out.resume();
        }
      };
      file?.on('drain', resumeIfDrained);
      out.on('data', (chunk: Buffer) => {
        file?.write(chunk);
        const frame = JSON.stringify({ data: chunk.toString('utf8') });
        pending += frame.length;
        ws.send(frame, () => {
          pending -= frame.length;
          resumeIfDrained();
        });
        if (!paused && (pending > HIGH_WATER_BYTES || (file !== null && file.writableLength > FILE_HIGH_WATER_BYTES))) {
          paused = true;
          out.pause();
        }
      });
      child.once('close', (code) => {
        const end = () => ws.send(JSON.stringify({ end: true, exitCode: code }));
        if (file) file.end(end);
        else end();
      });
      ws.once('close', () => child.kill('SIGKILL'));
    });
  });
  const { port } = wss.address() as AddressInfo;
  await answer({ type: 'ready', url: `ws://127.0.0.1:${port}`, pid: process.pid });
});
