/**
 * `toolbench serve tools`: StableToolBench's virtual API server (spec formats.md §13.1) over HTTP,
 * built on the same VirtualApi as `--env virtual`. Stops on SIGINT/SIGTERM once the requests in
 * flight are answered and the cache is written; a second signal aborts what is left.
 */
import type { Command } from 'commander';
import { loadConfigFile, parseNumber, parseText, resolveSettings, type ConfigFile, type SettingSpec } from '../config/settings.js';
import { createVirtualApi } from '../env/create-env.js';
import { startVirtualServer } from '../serve/virtual-server.js';
import { ToolbenchError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { addEnvOptions, envConfigOf, envDeps } from './env-options.js';
import { createReporter, type CliIo } from './io.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface StopSignals {
  /** Calls `handler` on every SIGINT or SIGTERM until the returned function is called. */
  listen(handler: (signal: StopSignal) => void): () => void;
}

export const PROCESS_STOP_SIGNALS: StopSignals = {
  listen(handler) {
    const onInterrupt = (): void => handler('SIGINT');
    const onTerminate = (): void => handler('SIGTERM');
    process.on('SIGINT', onInterrupt).on('SIGTERM', onTerminate);
    return () => {
      process.off('SIGINT', onInterrupt).off('SIGTERM', onTerminate);
    };
  },
};

interface ServeFlags {
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
  config?: string;
}

const setting = <T>(spec: SettingSpec<T>): SettingSpec<T> => spec;

/** Upstream's `server/config.yml` has `port` (8080); uvicorn listens on 0.0.0.0, we on loopback. */
const SERVE_SETTINGS = {
  port: setting({ flag: 'port', env: ['TOOLBENCH_PORT'], file: ['port'], parse: parseNumber({ integer: true, min: 0, max: 65535 }), fallback: 8080 }),
  host: setting({ flag: 'host', env: ['TOOLBENCH_HOST'], file: ['host'], parse: parseText, fallback: '127.0.0.1' }),
} as const;
const SERVE_FILE_KEYS: ReadonlySet<string> = new Set(Object.values(SERVE_SETTINGS).flatMap((spec) => spec.file));

export function registerServeTools(serve: Command, io: CliIo, signals: StopSignals): void {
  const command = serve
    .command('tools')
    .description('serve the StableToolBench virtual API (POST /virtual): response cache, then LLM simulation')
    .option('--port <n>', 'TCP port, 0 for any free one (default 8080, or TOOLBENCH_PORT, or port in --config)')
    .option('--host <addr>', 'interface to listen on; 0.0.0.0 for every interface (default 127.0.0.1, or TOOLBENCH_HOST)')
    .option('--json', 'print {"url": ..., "port": ...} on stdout once listening')
    .option('--quiet', 'do not log each request on stderr');
  addEnvOptions(command, { only: 'virtual' })
    .addHelpText(
      'after',
      `
Answers POST /virtual (also /rapidapi and /) with StableToolBench's body
{category, tool_name, api_name, tool_input, strip, toolbench_key}: from --cache, else with
--allow-real from a real call, else from the simulator (OPENAI_API_KEY; --simulator-base-url for
a local model). New replies are added to the cache unless --no-save-cache. GET /health answers
{"status": "ok"}. StableToolBench's server/config.yml can be given to --config as is.
Ctrl-C stops after the requests in flight are answered and the cache is written (exit 130).

Examples:
  $ toolbench serve tools --tools toolenv/tools --cache tool_response_cache
  $ toolbench serve tools --config server/config.yml --port 8081 --host 0.0.0.0
  $ toolbench serve tools --cache tool_response_cache --port 0 --json    # prints the port it got

  Point StableToolBench's Python client (or toolbench --env service) at it:
  $ export SERVICE_URL=http://localhost:8080/virtual
  $ toolbench tools call Social/olato_quotes/love_quote --env service --service-url http://localhost:8080/virtual`,
    )
    .action((_flags: ServeFlags, self: Command) => serveTools(self, io, signals));
}

async function serveTools(command: Command, io: CliIo, signals: StopSignals): Promise<void> {
  const flags = command.optsWithGlobals() as ServeFlags;
  const reporter = createReporter(io, { color: flags.color });
  const config = envConfigOf(command, io, reporter, { otherFileKeys: [...SERVE_FILE_KEYS] });
  const { port, host } = resolveServeSettings(command, flags, io);
  if (config.record !== undefined) reporter.warn('--record is not used by serve tools: clients record their own calls');
  const api = createVirtualApi(config, envDeps(reporter));
  const server = await startVirtualServer({ api, host, port, log: flags.quiet ? undefined : reporter.info }).catch((error: unknown) => {
    throw listenError(error, host, port);
  });

  let stopWith: ((signal: StopSignal) => void) | undefined;
  const stopped = new Promise<StopSignal>((resolve) => (stopWith = resolve));
  let signalsSeen = 0;
  const unlisten = signals.listen((signal) => {
    signalsSeen += 1;
    if (signalsSeen === 1) {
      reporter.info(`${signal}: stopping after the requests in flight and the cache writes (again to force)`);
      stopWith?.(signal);
    } else {
      reporter.warn(`${signal} again: aborting the requests in flight`);
      void server.close({ force: true });
    }
  });
  try {
    reporter.info(`serving the virtual API on ${server.url} (cache ${config.cache ?? 'none'}, tools ${config.tools ?? 'none'})`);
    if (flags.json) io.stdout.write(`${pyJsonDumps({ url: server.url, port: server.port })}\n`);
    const signal = await stopped;
    await server.close();
    if (signal === 'SIGINT') throw new ToolbenchError('interrupted', 130, 'interrupted (SIGINT): the server has stopped');
    reporter.info(`${signal}: the server has stopped`);
  } finally {
    unlisten();
  }
}

/** --port and --host: flags, then TOOLBENCH_PORT/TOOLBENCH_HOST, then the config file, then defaults. */
function resolveServeSettings(command: Command, flags: ServeFlags, io: CliIo): { port: number; host: string } {
  const values = command.opts() as Record<string, unknown>;
  const configFile = flags.config ?? io.env.TOOLBENCH_CONFIG;
  const config: ConfigFile | undefined = configFile === undefined || configFile === '' ? undefined : loadConfigFile(configFile);
  const { settings } = resolveSettings(SERVE_SETTINGS, {
    flags: { values, given: (flag) => values[flag] !== undefined && command.getOptionValueSource(flag) === 'cli' },
    env: io.env,
    config,
    // envConfigOf has already reported the file's unknown and secret keys
    warn: () => undefined,
  });
  return { port: settings.port, host: settings.host };
}

export function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EADDRINUSE') return new ToolbenchError('serve.port-in-use', 1, `${host}:${port} is in use: choose another --port (0 for any free one)`, { cause: error });
  if (code === 'EACCES') return new ToolbenchError('serve.port-denied', 1, `not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`, { cause: error });
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new ToolbenchError('serve.bad-host', 2, `--host ${host}: no such interface on this machine`, { cause: error });
  return error;
}
