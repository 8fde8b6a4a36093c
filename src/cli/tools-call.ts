/**
 * `toolbench tools call`: one API call through a tool environment, exactly as the search would
 * make it, printing the observation the model would see, its status and where it came from.
 */
import type { Command } from 'commander';
import { describeEnvConfig } from '../config/env-config.js';
import { createToolEnv } from '../env/create-env.js';
import type { ApiRef } from '../env/tool-call.js';
import { pureApiName, standardize, standardizeCategory } from '../registry/names.js';
import { ToolEnvironment } from '../registry/tool-environment.js';
import { usageError } from '../util/errors.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { addEnvOptions, envConfigOf, envDeps } from './env-options.js';
import { createReporter, type CliIo } from './io.js';

interface CallFlags {
  args: string;
  json?: boolean;
  tools?: string;
  color?: boolean;
}

export function registerToolsCall(tools: Command, io: CliIo): void {
  const call = tools
    .command('call')
    .description('call one API through a tool environment and print the observation the model would see')
    .argument('<api>', 'Category/tool/api (names standardized as upstream does), or a function name such as love_quote_for_olato_quotes (needs --tools)')
    .option('--args <json>', "the model's arguments text, passed on unparsed", '{}')
    .option('--json', 'print {api, args, observation, status, source, config} as JSON');
  addEnvOptions(call)
    .addHelpText(
      'after',
      `
The environment (--env) answers from: virtual, the response cache then an LLM simulation
(OPENAI_API_KEY; --simulator-base-url for a local model), with --allow-real a real call first;
service, the ToolBench RapidAPI service (TOOLBENCH_SERVICE_URL, TOOLBENCH_KEY); rapidapi, RapidAPI
itself (RAPIDAPI_KEY); local, <tools>/<Category>/<tool>/api.mjs; replay, recordings, caches or
answer trees only. Settings: flags, then TOOLBENCH_* variables, then --config FILE, then defaults.

Examples:
  $ toolbench tools call Social/olato_quotes/love_quote --cache tool_response_cache
  $ toolbench tools call love_quote_for_olato_quotes --tools toolenv/tools --env replay --replay-from runs/rec
  $ toolbench tools call Finance/currency_converter/convert --args '{"from": "USD", "to": "EUR"}' --env service \\
      --service-url http://localhost:8080/virtual --json`,
    )
    .action(async (name: string, _flags: CallFlags, command: Command) => {
      const flags = command.optsWithGlobals() as CallFlags;
      const reporter = createReporter(io, { color: flags.color });
      const config = envConfigOf(command, io, reporter);
      const api = resolveApi(name, config.tools);
      const env = createToolEnv(config, envDeps(reporter));
      try {
        const result = await env.call(api, flags.args);
        if (flags.json) {
          const shown = { api, args: flags.args, ...result, config: describeEnvConfig(config) };
          io.stdout.write(`${pyJsonDumps(shown, { ensureAscii: false })}\n`);
        } else {
          io.stdout.write(`${result.observation}\n`);
          reporter.info(`status ${result.status}, from ${result.source}`);
        }
      } finally {
        await env.close();
      }
    });
}

/** `Category/tool/api`, or a function name whose tool is found in --tools. */
export function resolveApi(name: string, toolsDir: string | undefined): ApiRef {
  const parts = name.split('/');
  if (parts.length === 3 && parts.every((part) => part !== '')) {
    const [category, tool, api] = parts as [string, string, string];
    return { category: standardizeCategory(category), tool: standardize(tool), api: pureApiName(api) };
  }
  const cut = name.lastIndexOf('_for_');
  if (parts.length !== 1 || cut <= 0) throw usageError(`${name}: expected Category/tool/api or a function name such as love_quote_for_olato_quotes`);
  if (toolsDir === undefined) throw usageError(`${name}: a function name needs --tools to find its category (or write Category/tool/api)`);
  const tool = name.slice(cut + '_for_'.length);
  const api = name.slice(0, cut);
  const environment = ToolEnvironment.open(toolsDir);
  const matches = environment.locate(tool).filter((location) => environment.load(location).apis.some((entry) => pureApiName(entry.name) === api));
  if (matches.length === 1) return { category: (matches[0] as { category: string }).category, tool, api };
  if (matches.length === 0) throw usageError(`${name}: no tool ${tool} with an API ${api} in ${environment.root}`);
  throw usageError(`${name}: found in several categories (${matches.map((match) => match.category).join(', ')}); write Category/${tool}/${api}`);
}
