// SIGKILL at random moments of a busy server (some right after an `execute` arrives), restart, repeat: whatever
// the commands started, escapes included, is gone once the next server has recovered. FUZZ_SEED reproduces a run.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { callTool, connectWs } from '../helpers/server.js';
import { containmentModes } from '../helpers/containment-modes.js';
import { alive, eventually } from '../helpers/proc.js';
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js';
import { initialize, open } from '../helpers/raw-ws.js';
import { createPrng } from '../security/fuzz-frames.js';

const ESCAPES = fileURLToPath(new URL('../fixtures/escapes.sh', import.meta.url));
const ROUNDS = 5;
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);

const MODES = await containmentModes();
const work = mkdtempSync(join(tmpdir(), 'cc-sigkill-loop-'));
const servers: ServerProcess[] = [];
const pidFiles: string[] = [];

/** Every pid the commands wrote ("<kind> <pid>" lines). */
function startedPids(): number[] {
  return pidFiles.flatMap((f) =>
    existsSync(f)
      ? readFileSync(f, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => Number(l.split(' ')[1]))
      : [],
  );
}

afterAll(() => {
  for (const s of servers) s.kill();
  for (const pid of startedPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  rmSync(work, { recursive: true, force: true });
});

it.each(MODES)(
  'containment %s: leaves no process after SIGKILLs at random moments, one right after an execute arrives, and a restart each time',
  async (mode) => {
    console.log(`sigkill loop (${mode}): ${ROUNDS} rounds, seed ${SEED} (reproduce with FUZZ_SEED=${SEED})`);
    const rand = createPrng(SEED);
    const dataDir = join(work, `data-${mode}`);
    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnServer(['--data-dir', dataDir, '--containment', mode, '--grace-ms', '300']);
      servers.push(server);
      // A busy server: background commands full of escapes, answered and running.
      const client = await connectWs(server.url);
      for (let i = 0; i < 2; i++) {
        const F = join(work, `${mode}-r${round}-bg${i}`);
        pidFiles.push(F);
        await callTool(client, 'execute', { command: `bash ${ESCAPES}; sleep 300`, env: { F }, background: true });
      }
      // Then raw frames that are never answered: executes in flight when the kill lands.
      const ws = await open(server.url);
      await initialize(ws);
      const burst = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < burst; i++) {
        const F = join(work, `${mode}-r${round}-burst${i}`);
        pidFiles.push(F);
        const command = `echo "leader $$" >> "$F"; setsid sh -c 'echo "setsid $$" >> "$F"; exec sleep 300' & sleep 300`;
        ws.send(
          JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'execute', arguments: { command, env: { F } } } }),
        );
      }
      // From "just received" to "everything spawned and streaming".
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 400)));
      server.child.kill('SIGKILL');
      await server.exited;
      ws.terminate();
      await client.close().catch(() => undefined);
    }
    // The fork server of each crashed server killed its groups at once and, under cgroups, its execution cgroups:
    // what is left (a process group's setsid escapes) the next server must find.
    if (mode === 'cgroup') expect(await eventually(() => startedPids().every((pid) => !alive(pid)), 20_000)).toBe(true);
    else expect(startedPids().filter(alive).length).toBeGreaterThan(0);
    const last = await spawnServer(['--data-dir', dataDir, '--containment', mode, '--grace-ms', '300']);
    servers.push(last);
    const gone = await eventually(() => startedPids().every((pid) => !alive(pid)), 20_000);
    const survivors = startedPids().filter(alive);
    expect(survivors, `survivors after recovery (seed ${SEED}): ${last.stderr().slice(-2000)}`).toEqual([]);
    expect(gone).toBe(true);
    last.child.kill('SIGTERM');
    expect((await last.exited).code).toBe(0);
  },
  180_000,
);
