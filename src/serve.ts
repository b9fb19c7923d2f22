// The server's entry (loaded by main.ts only for `serve`): config -> logger -> engine -> transports -> signals and orderly shutdown.
import { COMMANDS_USAGE } from './cli/commands.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ContainmentUnavailableError } from './backends/local/containment.js';
import { createEngine, type Engine } from './engine.js';
import { createLogger } from './logger.js';
import { isFdExhaustion } from './system/fd-budget.js';
import { describeStartup, type ExecutionModes } from './startup-line.js';
import { VERSION } from './version.js';
import { checkBind } from '../transports/gate.js';
import { startNetworkServer } from '../transports/http.js';
import { startStdioServer } from '../transports/stdio.js';

/** The containment in effect (cgroup or process-group, after `auto` chose) and the sandbox mode, for the start line. */
function executionModes(engine: Engine): ExecutionModes {
  return { containment: engine.backend.capabilities().containment.mode, sandbox: engine.sandbox.mode };
}

/** Without shutdownTimeoutMs: how long, beyond the grace period, an orderly shutdown may take before the hard stop. */
const SHUTDOWN_SLACK_MS = 5_000;

function readConfig(argv: string[]): { config: Config; configFile: string | undefined } {
  try {
    const result = loadConfig({ argv, env: process.env });
    if (result.kind === 'help') {
      process.stdout.write(`${COMMANDS_USAGE}\n${result.text}\n`);
      process.exit(0);
    }
    if (result.kind === 'version') {
      process.stdout.write(`${VERSION}\n`);
      process.exit(0);
    }
    return { config: result.config, configFile: result.configFile };
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`cc-executor: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

/** The late 'error' of a ChildProcess whose spawn ran out of descriptors: the one uncaught error that is harmless. */
function isSpawnFdExhaustion(err: Error): boolean {
  const syscall = (err as NodeJS.ErrnoException).syscall;
  return isFdExhaustion(err) && typeof syscall === 'string' && syscall.startsWith('spawn');
}

/** Run the server with these arguments (everything after `serve`); resolves once it is serving. */
export async function serve(argv: string[]): Promise<void> {
  const { config, configFile } = readConfig(argv);
  const bindProblem = config.stdio ? undefined : checkBind(config);
  if (bindProblem) {
    process.stderr.write(`cc-executor: ${bindProblem}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  let engine: Engine;
  try {
    engine = createEngine(config, logger, { configFile });
  } catch (e) {
    // A setting this machine cannot honour (sandbox without a usable bwrap, containment "cgroup" or limits
    // without cgroups): one line, like a bad value.
    if (e instanceof ConfigError || e instanceof ContainmentUnavailableError) {
      process.stderr.write(`cc-executor: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (engine.sandbox.mode !== 'off') {
    logger.info({ sandbox: engine.sandbox.mode, network: engine.sandbox.network, bwrap: engine.sandbox.bwrap }, 'sandbox on');
  }
  await engine.records.init();
  // The first load sample before the first connection: `status` and /health never show cpu: null after start.
  await engine.load.whenSampled();

  // Last resort: whatever ends this process, no group we started survives it and no record stays 'running'.
  process.on('exit', () => engine.stopNow());
  process.on('uncaughtException', (err) => {
    // Node emits a spawn's EMFILE/ENFILE on the ChildProcess a tick after spawn() returned. Our own spawns
    // wait for that 'error' (the request gets RESOURCE_EXHAUSTED, a hook run fails); one a dependency starts
    // without listening must not take the server down either: nothing is broken.
    if (isSpawnFdExhaustion(err)) {
      logger.warn({ err: err.message }, 'a spawn failed for lack of file descriptors; that request was refused, the server carries on');
      return;
    }
    logger.fatal({ err }, 'uncaught exception; killing every process group');
    engine.stopNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled rejection');
  });

  // Handlers before the start line: a supervisor (or a test) that signals as soon as it reads "listening" must
  // get a clean shutdown, not the default action of a signal nobody handles yet.
  let stopTransport: () => Promise<void> = () => Promise.resolve();
  let stopAccepting: () => void = () => undefined;
  let stopping = false;
  async function shutdown(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    const startedAt = performance.now();
    const cpuAtStart = process.cpuUsage();
    logger.info({ why }, 'shutting down: terminating every process group');
    const hardStopMs = config.shutdownTimeoutMs ?? config.graceMs + SHUTDOWN_SLACK_MS;
    const hardStop = setTimeout(() => {
      // Records first become final (synchronously, after the kill): never an exit that leaves one 'running'.
      engine.stopNow();
      logger.warn({ shutdownTimeoutMs: hardStopMs }, 'shutdown took too long: killed what was left and wrote every record final');
      process.exit(1);
    }, hardStopMs);
    hardStop.unref();
    stopAccepting();
    // Executions end first, so in-flight calls answer with terminationReason 'shutdown' before sockets close.
    await engine.close();
    await new Promise((r) => setTimeout(r, 50));
    engine.sessions.closeAll('shutdown');
    await stopTransport();
    // How long it took and what it cost this process (the bench reads them; so can an operator).
    const cpu = process.cpuUsage(cpuAtStart);
    logger.info({ shutdownMs: Math.round(performance.now() - startedAt), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }, 'stopped');
    process.exit(0);
  }

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) {
        logger.warn({ signal: sig }, 'second signal: killing every process group now');
        engine.stopNow();
        process.exit(130);
      }
      void shutdown(sig);
    });
  }
  process.on('SIGHUP', () => void shutdown('SIGHUP'));

  if (config.stdio) {
    const stdio = await startStdioServer(engine);
    stopTransport = () => stdio.close();
    void stdio.ended.then(() => shutdown('stdin closed'));
    const line = describeStartup(config, executionModes(engine));
    logger.info(line.fields, line.msg);
  } else {
    const net = await startNetworkServer(engine);
    stopTransport = () => net.close();
    stopAccepting = () => net.stopAccepting();
    if (stopping) return stopAccepting(); // a signal during start-up: never begin to serve
    const line = describeStartup(config, executionModes(engine), net);
    logger.info(line.fields, line.msg);
    // Never the token itself in the log: the user adds ?token=... once (docs/console.md).
    if (config.console) logger.info({ console: `${net.baseUrl}/console` }, `console at ${net.baseUrl}/console`);
  }
}
