// Real cgroup v2 containment against this machine's cgroupfs: membership, kill, freeze, leftovers, limits.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cgroup } from '../../../src/backends/local/cgroup.js';
import { CgroupTree, cgroup2Mounts, ownCgroupPath } from '../../../src/backends/local/cgroup-tree.js';
import { alive, eventually as waitFor } from '../../helpers/proc.js';

const dirs: string[] = [];
const trees: CgroupTree[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cc-cgroup-'));
  dirs.push(d);
  return d;
}

const probe = CgroupTree.detect(mkdtempSync(join(tmpdir(), 'cc-cgroup-probe-')));
if (probe.ok) await probe.tree.close();
const why = probe.ok ? '' : probe.reason;

afterEach(async () => {
  for (const t of trees.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('cgroup discovery from /proc text', () => {
  it('reads the unified hierarchy line and cgroup2 mounts, hybrid or pure', () => {
    expect(ownCgroupPath('4:memory:/x\n0::/user.slice/a.scope\n')).toBe('/user.slice/a.scope');
    expect(ownCgroupPath('4:memory:/x\n')).toBeUndefined();
    const info =
      '30 25 0:26 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n' +
      '31 25 0:27 / /sys/fs/cgroup/memory rw shared:10 - cgroup cgroup rw,memory\n';
    expect(cgroup2Mounts(info)).toEqual([{ root: '/', mountPoint: '/sys/fs/cgroup/unified' }]);
  });

  it('refuses with a reason when there is no unified hierarchy', () => {
    const d = dataDir();
    writeFileSync(join(d, 'cgroup'), '4:memory:/\n');
    writeFileSync(join(d, 'mountinfo'), '');
    const r = CgroupTree.detect(d, { procSelfCgroup: join(d, 'cgroup'), mountinfo: join(d, 'mountinfo') });
    expect(r).toEqual({ ok: false, reason: expect.stringContaining('no cgroup v2') as unknown });
  });
});

describe.skipIf(!probe.ok)(`cgroup v2 containment on this machine${why ? ` (skipped: ${why})` : ''}`, () => {
  let tree: CgroupTree;
  beforeAll(() => {
    if (!probe.ok) console.warn(`cgroup tests skipped: ${why}`);
  });

  function detect(dir = dataDir()): CgroupTree {
    const r = CgroupTree.detect(dir);
    if (!r.ok) throw new Error(r.reason);
    trees.push(r.tree);
    return r.tree;
  }

  it('names a subtree by data dir: same dir, same root; other dirs never collide', () => {
    const d = dataDir();
    tree = detect(d);
    const again = detect(d);
    const other = detect();
    expect(again.dataDirRoot).toBe(tree.dataDirRoot);
    expect(other.dataDirRoot).not.toBe(tree.dataDirRoot);
    expect(existsSync(join(tree.serverDir, 'cgroup.procs'))).toBe(true);
  });

  it('keeps a setsid grandchild inside and kills everything at once', async () => {
    tree = detect();
    const cg = tree.create('exec-1');
    const { file, args } = cg.wrap('/bin/sh', ['-c', 'setsid sleep 300 & sleep 300 & echo started; wait']);
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => child.stdout.once('data', r));
      expect(await waitFor(() => cg.members().length === 3)).toBe(true);
      const members = cg.members();
      expect(cg.populated()).toBe(true);
      cg.kill();
      expect(await cg.waitEmpty(10_000)).toBe(true);
      expect(await waitFor(() => members.every((p) => !alive(p)))).toBe(true);
      expect(cg.remove()).toBe(true);
      expect(existsSync(cg.path)).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('freezes a setsid grandchild that writes a counter, and thaws it', async () => {
    tree = detect();
    const cg = tree.create('exec-freeze');
    const counter = join(dataDir(), 'counter');
    const loop = `i=0; while true; do i=$((i+1)); echo $i > ${counter}; sleep 0.02; done`;
    const { file, args } = cg.wrap('/bin/sh', ['-c', `setsid sh -c '${loop}' & wait`]);
    const child = spawn(file, args, { detached: true, stdio: 'ignore' });
    try {
      const read = () => Number(existsSync(counter) ? readFileSync(counter, 'utf8').trim() || 0 : 0);
      expect(await waitFor(() => read() > 3)).toBe(true);
      expect(await cg.freeze()).toBe(true);
      const frozenAt = read();
      await delay(300);
      expect(read()).toBe(frozenAt);
      expect(await cg.thaw()).toBe(true);
      expect(await waitFor(() => read() > frozenAt + 3)).toBe(true);
      // A frozen cgroup dies on kill too.
      await cg.freeze();
      cg.kill();
      expect(await cg.waitEmpty(10_000)).toBe(true);
    } finally {
      cg.kill();
      child.kill('SIGKILL');
    }
  });

  it('measures CPU time of every member', async () => {
    tree = detect();
    const cg = tree.create('exec-cpu');
    const { file, args } = cg.wrap('/bin/sh', ['-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done']);
    const child = spawn(file, args, { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    expect(await cg.waitEmpty(10_000)).toBe(true);
    expect(cg.usage().cpuMs).toBeGreaterThan(10);
  });

  it('forks a process inside an execution cgroup and returns the server to its own cgroup', async () => {
    tree = detect();
    expect(tree.forkIntoProblem).toBeUndefined();
    const home = readFileSync('/proc/self/cgroup', 'utf8');
    const cg = tree.create('exec-fork-into');
    const { result: child, stuck } = tree.forkInto(cg, () =>
      spawn('/bin/sh', ['-c', 'setsid sleep 300 & sleep 300 & echo started; wait'], {
        detached: true,
        stdio: ['ignore', 'pipe', 'ignore'],
      }),
    );
    try {
      expect(stuck).toBe(false);
      expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(home);
      expect(cg.members()).toContain(child.pid);
      expect(cg.members()).not.toContain(process.pid);
      await new Promise((r) => child.stdout.once('data', r));
      // Everything it starts, setsid or not, is born inside too.
      expect(await waitFor(() => cg.members().length === 3)).toBe(true);
      const members = cg.members();
      cg.kill();
      expect(await waitFor(() => members.every((p) => !alive(p)))).toBe(true);
      expect(alive(process.pid)).toBe(true);
    } finally {
      cg.kill();
      child.kill('SIGKILL');
    }
  });

  it('returns the server to the cgroup it is in at each fork, also after something else moved it', () => {
    tree = detect();
    const realSelf = readFileSync('/proc/self/cgroup', 'utf8');
    const ownDir = join(tree.dataDirRoot, '..');
    // Elsewhere since the last fork (an administrator's move): the next fork returns it there, not to the first home.
    const moved = join(ownDir, `cc-executor-test-moved-${process.pid}`);
    mkdirSync(moved);
    try {
      tree.forkInto(tree.create('exec-before-move'), () => undefined);
      expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(realSelf);
      writeFileSync(join(moved, 'cgroup.procs'), String(process.pid));
      const { stuck } = tree.forkInto(tree.create('exec-after-move'), () => undefined);
      expect(stuck).toBe(false);
      expect(ownCgroupPath(readFileSync('/proc/self/cgroup', 'utf8'))).toBe(
        `${ownCgroupPath(realSelf)!.replace(/\/$/, '')}/${basename(moved)}`,
      );
    } finally {
      writeFileSync(join(ownDir, 'cgroup.procs'), String(process.pid));
      new Cgroup(moved).remove();
    }
    expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(realSelf);
  });

  it('never kills or removes a cgroup the server could not leave, and stops forking into cgroups', async () => {
    // /proc/self/cgroup as the tree reads it: true at detection, then naming a cgroup that does not exist,
    // so the move back fails the way a cgroup removed under the server would make it fail.
    const d = dataDir();
    const fakeSelf = join(d, 'self-cgroup');
    const realSelf = readFileSync('/proc/self/cgroup', 'utf8');
    writeFileSync(fakeSelf, realSelf);
    const r = CgroupTree.detect(d, { procSelfCgroup: fakeSelf, mountinfo: '/proc/self/mountinfo' });
    if (!r.ok) throw new Error(r.reason);
    tree = r.tree;
    trees.push(tree);
    const ownDir = join(tree.dataDirRoot, '..');
    writeFileSync(fakeSelf, `0::${ownCgroupPath(realSelf)}/cc-executor-no-such-cgroup\n`);
    const cg = tree.create('exec-stuck');
    try {
      const { result: pid, stuck } = tree.forkInto(cg, () => process.pid);
      expect(pid).toBe(process.pid);
      expect(stuck).toBe(true);
      expect(cg.members()).toContain(process.pid);
      expect(tree.forkIntoProblem).toMatch(/could not move back/);
      tree.killAllNow();
      await tree.close(1_000);
      expect(alive(process.pid)).toBe(true);
      expect(cg.members()).toContain(process.pid);
    } finally {
      writeFileSync(join(ownDir, 'cgroup.procs'), String(process.pid));
      cg.remove();
      new Cgroup(tree.serverDir).remove();
      new Cgroup(tree.dataDirRoot).remove();
    }
    expect(readFileSync('/proc/self/cgroup', 'utf8')).toBe(realSelf);
  });

  it('fails the launch with exit 125 when the cgroup cannot be entered', async () => {
    tree = detect();
    const cg = tree.create('exec-gone');
    cg.remove();
    const { file, args } = cg.wrap('/bin/echo', ['never']);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(125);
    expect(out).toBe('');
    expect(err).toContain('cannot enter cgroup');
  });

  it("kills and removes a dead server's leftovers, never a live server's", async () => {
    const d = dataDir();
    tree = detect(d);
    // A predecessor that died: its level is named by a pid/start time that no live process has.
    const deadLevel = join(tree.dataDirRoot, '999999999-1');
    mkdirSync(deadLevel);
    const dead = new Cgroup(join(deadLevel, 'exec-orphan'));
    mkdirSync(dead.path);
    const live = tree.create('exec-live');
    const children = [dead, live].map((cg) => {
      const { file, args } = cg.wrap('/bin/sh', ['-c', 'setsid sleep 300 & wait']);
      return spawn(file, args, { detached: true, stdio: 'ignore' });
    });
    try {
      expect(await waitFor(() => dead.members().length === 2 && live.members().length === 2)).toBe(true);
      const orphans = dead.members();
      const second = detect(d); // a restart on the same data dir, while `tree` (a live server) still runs
      const found = await second.recoverLeftovers(5_000);
      expect(found).toEqual([{ executionId: 'exec-orphan', path: dead.path, hadMembers: true, removed: true }]);
      expect(await waitFor(() => orphans.every((p) => !alive(p)))).toBe(true);
      expect(existsSync(deadLevel)).toBe(false);
      expect(live.populated()).toBe(true);
    } finally {
      dead.kill();
      live.kill();
      for (const c of children) c.kill('SIGKILL');
    }
  });

  it("removes the empty levels of dead servers on other data dirs, never a populated one or a live server's", async () => {
    const live = detect(); // a live server on another data dir
    const base = dirname(live.dataDirRoot);
    const tag = `${process.pid}${Date.now().toString(36)}`;
    // A data dir used once by a server that was SIGKILLed: its root, level and execution cgroup, all empty.
    const abandoned = join(base, `cc-executor-test${tag}a`);
    mkdirSync(join(abandoned, '999999999-1', 'exec-done', 'nested'), { recursive: true });
    // Another one whose dead server left a command running: that data dir's successor kills and reports it.
    const running = new Cgroup(join(base, `cc-executor-test${tag}b`, '999999998-1', 'exec-running'));
    mkdirSync(join(dirname(running.path), 'exec-empty'), { recursive: true });
    mkdirSync(running.path);
    const { file, args } = running.wrap('/bin/sh', ['-c', 'sleep 300']);
    const child = spawn(file, args, { detached: true, stdio: 'ignore' });
    // A level made in the last minute is left alone (its server's successor may be starting): these are older.
    const recent = join(base, `cc-executor-test${tag}c`, '999999997-1', 'exec-new');
    mkdirSync(recent, { recursive: true });
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const d of [
      abandoned,
      join(abandoned, '999999999-1'),
      join(abandoned, '999999999-1', 'exec-done'),
      join(abandoned, '999999999-1', 'exec-done', 'nested'),
      join(dirname(running.path), 'exec-empty'),
      dirname(running.path),
      running.path,
    ])
      utimesSync(d, hourAgo, hourAgo);
    try {
      expect(await waitFor(() => running.populated())).toBe(true);
      detect(); // a new server on a third data dir sweeps at start
      expect(existsSync(abandoned)).toBe(false);
      expect(running.populated()).toBe(true);
      expect(existsSync(join(dirname(running.path), 'exec-empty'))).toBe(false);
      expect(existsSync(live.serverDir)).toBe(true);
      expect(existsSync(recent)).toBe(true);
    } finally {
      for (const d of [recent, dirname(recent), dirname(dirname(recent))]) new Cgroup(d).remove();
      running.kill();
      child.kill('SIGKILL');
      await running.waitEmpty(5_000);
      for (const d of [running.path, dirname(running.path), dirname(dirname(running.path))]) new Cgroup(d).remove();
    }
  });

  it('closes its level: live members killed, directories removed', async () => {
    tree = detect();
    const cg = tree.create('exec-close');
    const { file, args } = cg.wrap('/bin/sh', ['-c', 'setsid sleep 300 & wait']);
    const child = spawn(file, args, { detached: true, stdio: 'ignore' });
    expect(await waitFor(() => cg.members().length === 2)).toBe(true);
    const members = cg.members();
    await tree.close();
    expect(await waitFor(() => members.every((p) => !alive(p)))).toBe(true);
    expect(existsSync(cg.path)).toBe(false);
    expect(existsSync(tree.serverDir)).toBe(false);
    child.kill('SIGKILL');
  });

  it('says which controller a limit needs when it is not enabled, and enforces it when it is', async () => {
    tree = detect();
    if (!tree.controllers.has('memory')) {
      expect(tree.unsupportedLimit('memoryMaxBytes')).toMatch(/memory controller/);
      console.warn('memory limit enforcement not tested: the memory controller is not enabled in cgroup v2 here');
      return;
    }
    expect(tree.unsupportedLimit('memoryMaxBytes')).toBeUndefined();
    const cg = tree.create('exec-hog', { memoryMaxBytes: 32 * 1024 * 1024 });
    const { file, args } = cg.wrap(process.execPath, ['-e', 'const a=[]; for(;;) a.push(Buffer.alloc(1<<20, 1))']);
    const child = spawn(file, args, { stdio: 'ignore' });
    const signal = await new Promise((r) => child.once('exit', (_c, s) => r(s)));
    expect(signal).toBe('SIGKILL');
    expect(cg.limitEvents().oomKills).toBeGreaterThan(0);
  });
});
