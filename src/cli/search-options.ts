/**
 * The flags `infer` and `serve agent` share (the model, the search limits, the retriever) and
 * what they open from them: the backbone and the retriever.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { EnvConfig } from '../config/env-config.js';
import type { SearchSettings } from '../infer/infer-settings.js';
import type { Backbone } from '../llm/backbone.js';
import { createBackbone } from '../llm/create-backbone.js';
import { loadPriceTable, type PriceTable } from '../llm/prices.js';
import { FINISH_VERSIONS } from '../registry/function-schema.js';
import { DenseRetriever } from '../retriever/dense-retriever.js';
import { METHOD_EXAMPLES } from '../search/method.js';
import { COMPAT_FLAGS } from '../search/types.js';
import { ToolbenchError } from '../util/errors.js';
import { collect } from './env-options.js';
import type { Reporter } from './io.js';

export function addSearchOptions(command: Command): Command {
  return command
    .option('--method <name>', `${METHOD_EXAMPLES} (default DFS_woFilter_w2)`)
    .option('--backbone <kind>', 'openai (chat API, functions or tools), toolllama (ToolLLaMA text format on a completions endpoint), replay (recorded answer files) (default openai)')
    .option('--model <name>', 'model name sent to the endpoint')
    .option('--base-url <url>', 'OpenAI-compatible endpoint (default OPENAI_BASE_URL or OPENAI_API_BASE, else OpenAI); key from OPENAI_API_KEY')
    .option('--model-path <dir>', 'a local checkpoint (Hugging Face folder or .gguf) run in-process on the model runner with the toolllama backbone')
    .option('--lora-path <dir>', 'a PEFT LoRA adapter for --model-path: merged into float weights at load, a low-rank side branch beside 4-bit GGUF weights')
    .option('--shape <shape>', 'message shape: functions (ToolBench) or tools (StableToolBench) (default tools for openai, functions for toolllama)')
    .option('--history <mode>', 'toolllama: how earlier turns are written: training, toolbench or stabletoolbench (default training)')
    .option('--truncate-prompt-tokens <n>', "toolllama: vLLM's truncate_prompt_tokens, the server keeps the prompt's last n tokens (default 7168, as StableToolBench; 0: not sent)")
    .option('--temperature <t>', 'sampling temperature (default: the API default for openai, 0 for toolllama)')
    .option('--max-tokens <n>', 'completion tokens per call (default 1024)')
    .option('--max-query-count <n>', 'LLM calls allowed per query (default 200)')
    .option('--max-depth <n>', 'depth at which a branch is cut, single_chain_max_step (default 12)')
    .option('--rpm <n>', 'at most n LLM requests a minute, over all workers')
    .option('--prices <file>', 'YAML model prices (models: {name: {input, output}} in $ per 1M tokens) merged over the built-in ones')
    .option('--compat <flag>', `reproduce an upstream behaviour: ${COMPAT_FLAGS.join(', ')} (repeatable)`, collect)
    .option('--finish <version>', `wording of the Finish function: ${FINISH_VERSIONS.join(' or ')} (default current)`)
    .option('--retriever <dir>', 'open domain: a sentence-transformers checkpoint that chooses each query\'s APIs from --corpus (needs --tools)')
    .option('--corpus <file>', "the retriever's documents: corpus.tsv from \"toolbench preprocess retriever\"")
    .option('--top-k <n>', 'APIs the retriever gives each query, --retrieved_api_nums (default 5)');
}

/** The backbone the settings name, with `concurrency` calls at a time. */
export function createSearchBackbone(settings: SearchSettings, envConfig: EnvConfig, concurrency: number, prices: PriceTable = loadPriceTable(settings.pricesFile)): Backbone {
  const kind = settings.backbone;
  // recorded runs bring a backbone each (infer's replay jobs)
  if (kind === 'replay') throw new ToolbenchError('usage.invalid', 2, '--backbone replay answers from recorded runs: it needs "toolbench infer --replay-from DIR"');
  return createBackbone({
    kind,
    model: settings.model,
    ...(settings.modelPath !== undefined ? { modelPath: settings.modelPath } : {}),
    ...(settings.loraPath !== undefined ? { loraPath: settings.loraPath } : {}),
    baseUrl: settings.baseUrl,
    apiKey: envConfig.keys.openai,
    shape: settings.shape,
    history: settings.history,
    temperature: settings.temperature,
    // the model gets a seed only when the user gave one (upstream sends none)
    seed: envConfig.origins.seed === 'default' ? undefined : envConfig.seed,
    maxTokens: settings.maxTokens,
    truncatePromptTokens: settings.truncatePromptTokens,
    prices,
    concurrency,
    requestsPerMinute: settings.rpm,
  });
}

/**
 * Loads the retriever and embeds its corpus (or reads the embeddings cached by an earlier run,
 * under `$XDG_CACHE_HOME/toolbench/retriever`), reporting progress.
 */
export async function openRetriever(settings: NonNullable<SearchSettings['retriever']>, env: Readonly<Record<string, string | undefined>>, reporter: Reporter, signal?: AbortSignal): Promise<DenseRetriever> {
  const started = Date.now();
  let nextReport = 0;
  const retriever = await DenseRetriever.open({
    model: settings.model,
    corpus: settings.corpus,
    cacheDir: retrieverCacheDir(env),
    ...(signal === undefined ? {} : { signal }),
    warn: reporter.warn,
    onProgress: (done, total) => {
      if (done === 0) reporter.info(`embedding ${total} API documents of ${settings.corpus} with ${settings.model} (once: the embeddings are cached)`);
      else if (done >= nextReport && done < total) reporter.info(`  ${done}/${total} documents embedded`);
      else return;
      nextReport = done + Math.max(1, Math.ceil(total / 10));
    },
  });
  for (const note of retriever.deviceNotes) reporter.warn(note);
  const how = retriever.fromCache ? 'embeddings from the cache' : `embedded in ${((Date.now() - started) / 1000).toFixed(1)} s`;
  reporter.info(`retriever ready: ${retriever.documents} API documents (${how}) on ${retriever.device}`);
  return retriever;
}

/** `$XDG_CACHE_HOME/toolbench/retriever`, else `~/.cache/toolbench/retriever`. */
export function retrieverCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache');
  return join(base, 'toolbench', 'retriever');
}
