/**
 * `toolbench serve agent` (also plain `toolbench serve`): ToolBench's demo agent server
 * (`toolbench_server.py`, formats.md §14) on the infer model, tool environment and retriever
 * flags. Ctrl-C stops the start (the retriever's corpus embedding) or the request in flight (its
 * stream ends with an error event) and the server; a second Ctrl-C quits at once.
 */
import { once } from 'node:events';
import type { Command } from 'commander';
import { createToolEnv } from '../env/create-env.js';
import type { ToolEnv } from '../env/tool-call.js';
import { DEFAULT_TOP_K, resolveSearchSettings, type SearchFlags } from '../infer/infer-settings.js';
import type { Backbone } from '../llm/backbone.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import type { DenseRetriever } from '../retriever/dense-retriever.js';
import { answerRequest, type AgentRuntime } from '../serve/agent-request.js';
import { startAgentServer } from '../serve/agent-server.js';
import { closeAll } from '../util/close-all.js';
import { ToolbenchError, usageError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { addEnvOptions, envConfigOf, envDeps } from './env-options.js';
import { createReporter, type CliIo } from './io.js';
import { addSearchOptions, createSearchBackbone, openRetriever } from './search-options.js';
import { listenError, type StopSignal, type StopSignals } from './serve-tools.js';

interface AgentFlags extends SearchFlags {
  host?: string;
  port?: string;
  out?: string;
  json?: boolean;
  quiet?: boolean;
  color?: boolean;
}

/** Upstream's Flask app listens on port 5000 of every interface; we listen on loopback unless told. */
const DEFAULT_PORT = 5000;
const DEFAULT_HOST = '127.0.0.1';

export function registerServeAgent(serve: Command, io: CliIo, signals: StopSignals): void {
  const command = serve
    .command('agent', { isDefault: true })
    .description("serve the agent (POST /stream): ToolBench's streaming demo server, retriever and DFSDT search")
    .option('--port <n>', `TCP port, 0 for any free one (default ${DEFAULT_PORT})`)
    .option('--host <addr>', `interface to listen on; 0.0.0.0 for every interface (default ${DEFAULT_HOST})`)
    .option('--out <dir>', "also write each request's answer file here (<id>_<method>.json, as infer)")
    .option('--json', 'print {"url": ..., "port": ...} on stdout once listening')
    .option('--quiet', 'do not log each request on stderr');
  addSearchOptions(command);
  addEnvOptions(command)
    .addHelpText(
      'after',
      `
POST /stream (or GET with a body) takes {"text": "<query>", "top_k": 5, "method": "DFS_woFilter_w2"}
and streams the search as JSON objects, one a line, the last (on_request_end, or on_request_error)
without a newline: on_tool_retrieval_start/end, on_request_start, then per DFS step
on_chain_start, on_llm_start, on_llm_end, on_agent_action, on_tool_start, on_tool_end, and
on_chain_end/on_agent_end once the step's subtree is explored. top_k and method default to
--top-k and --method. Without --retriever, a request gives its APIs itself with "api_list" (as in
a query file). One request runs at a time: another gets 409. GET /methods and GET /health answer
JSON. A client that hangs up stops its search.

Examples:
  $ toolbench serve --retriever retriever_model --corpus retrieval/G1/corpus.tsv --tools data/toolenv/tools \\
      --env virtual --cache tool_response_cache --model-path ToolLLaMA-2-7b-v2
  $ toolbench serve agent --model gpt-4o-mini --tools data/toolenv/tools --env virtual --port 0 --json
  $ curl -N localhost:5000/stream -d '{"text": "Give me a love quote", "top_k": 5, "method": "DFS_woFilter_w2"}'
  $ curl -N localhost:5000/stream -d '{"text": "Give me a love quote", "api_list": [{"category_name": "Social",
      "tool_name": "Olato Quotes", "api_name": "Love Quote"}]}'`,
    )
    .action((_flags: AgentFlags, self: Command) => serveAgent(self, io, signals));
}

async function serveAgent(command: Command, io: CliIo, signals: StopSignals): Promise<void> {
  const flags = command.optsWithGlobals() as AgentFlags;
  const reporter = createReporter(io, { color: flags.color });
  const settings = resolveSearchSettings(flags, io.env);
  const port = portOf(flags.port);
  const host = flags.host ?? DEFAULT_HOST;
  const envConfig = envConfigOf(command, io, reporter);
  if (envConfig.tools === undefined) throw usageError('--tools DIR is required: the tool files the agent calls');

  // one listener for the command's whole life: the first signal stops the start or the server
  const stop = new AbortController();
  let stopSignal: StopSignal | undefined;
  const unlisten = signals.listen((signal) => {
    stopSignal = signal;
    reporter.info(`${signal}: stopping the request in flight and the server (again to quit at once)`);
    stop.abort(new ToolbenchError('interrupted', 130, `interrupted (${signal})`));
    unlisten(); // a second Ctrl-C gets the default behaviour: quit at once
  });
  let backbone: Backbone | undefined;
  let env: ToolEnv | undefined;
  let retriever: DenseRetriever | undefined;
  let failure: unknown;
  try {
    const tools = ToolEnvironment.open(envConfig.tools);
    backbone = createSearchBackbone(settings, envConfig, 1);
    env = createToolEnv(envConfig, { ...envDeps(reporter), tools });
    if (settings.retriever !== undefined) retriever = await openRetriever(settings.retriever, io.env, reporter, stop.signal);
    else reporter.info('no --retriever: each request must give its APIs in "api_list"');
    stop.signal.throwIfAborted();
    const runtime: AgentRuntime = {
      backbone,
      env,
      tools,
      ...(retriever === undefined ? {} : { retriever }),
      maxDepth: settings.maxDepth,
      maxQueryCount: settings.maxQueryCount,
      seed: envConfig.seed,
      compat: settings.compat,
      finish: settings.finish,
      ...(flags.out === undefined ? {} : { answerDir: flags.out }),
      warn: reporter.warn,
    };
    const server = await startAgentServer({
      host,
      port,
      defaults: { method: settings.method, topK: settings.retriever?.topK ?? DEFAULT_TOP_K },
      retriever: retriever !== undefined,
      answer: (request, emit, signal) => answerRequest(request, runtime, emit, signal),
      ...(flags.quiet ? {} : { log: reporter.info }),
    }).catch((error: unknown) => {
      throw listenError(error, host, port);
    });
    reporter.info(`serving the agent on ${server.url} (method ${settings.method.name}, ${settings.modelPath ?? settings.model ?? settings.backbone})`);
    if (flags.json) io.stdout.write(`${pyJsonDumps({ url: server.url, port: server.port })}\n`);
    if (!stop.signal.aborted) await once(stop.signal, 'abort');
    await server.close({ force: true });
    if (stopSignal === 'SIGINT') throw new ToolbenchError('interrupted', 130, 'interrupted (SIGINT): the server has stopped');
    reporter.info(`${stopSignal}: the server has stopped`);
  } catch (error) {
    failure = error; // a signal while starting is an interrupted start (exit 130), whichever it was
    throw error;
  } finally {
    unlisten();
    await closeAll([() => env?.close(), () => backbone?.close?.(), () => retriever?.release()]).catch((error: unknown) => {
      // the error that ended the command is the one to report
      if (failure === undefined) throw error;
      reporter.warn(`while stopping: ${(error as Error)?.message ?? String(error)}`);
    });
  }
}

function portOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_PORT;
  const port = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port > 65535) throw usageError(`--port ${text}: expected a port number from 0 to 65535`);
  return port;
}
