/**
 * A GGUF file is the safetensors checkpoint it was converted from, at the level of the logits: a
 * tiny LLaMA checkpoint (tiny-checkpoint.ts) and the GGUF file llama.cpp's converter makes of it
 * (tiny-gguf.ts: q/k rows permuted, shapes innermost first, tokenizer.ggml.*) run through
 * CausalLm in both graphs, for a prompt and two cached decode steps. Block-quantised files are
 * compared with a checkpoint of the values their quants stand for.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CausalLm } from '../../src/runner/causal-lm.js';
import { loadLanguageModel } from '../../src/runner/language-model.js';
import { LLAMA_GRAPH_KINDS, type LlamaGraphKind } from '../../src/runner/llama-graph.js';
import type { QuantType } from '../helpers/gguf-writer.js';
import { encodeSafetensors } from '../helpers/safetensors-writer.js';
import { writeTinyLlama, type LlamaConfigJson, type StoredDtype, type TinyCheckpoint, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';
import { convertToGguf } from '../helpers/tiny-gguf.js';
import { LLAMA_TOKENIZER_BASE_SIZE } from '../helpers/tiny-tokenizers.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-gguf-logits-'));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * Rows of 256 (whole Q4_K/Q6_K super-blocks) in every matrix, GQA, and a RoPE base and norm
 * epsilon off the defaults, so that the GGUF's llama.* metadata has to be read.
 */
const MODEL: TinyLlamaOptions = { hiddenSize: 256, numAttentionHeads: 4, numKeyValueHeads: 2, intermediateSize: 256, vocabSize: 384, ropeTheta: 500000, rmsNormEps: 1e-6 };

/** The prompt (BOS, then ids over the vocabulary), then one token per cached decode step. */
const PROMPT = [1, 341, 259, 17, 276, 383, 280, 268, 100, 262];
const DECODED = [270, 3];
const CALLS = ['prompt', ...DECODED.map((_, step) => `decode step ${step + 1}`)];

/** Quantised logits against the dequantised weights' float logits, relative to the largest |logit|. */
const QUANTISED_TOLERANCE = 1e-4;

function checkpoint(name: string, options: TinyLlamaOptions): TinyCheckpoint<LlamaConfigJson> {
  return writeTinyLlama(join(root, name), { ...MODEL, ...options });
}

/** The logits of each call: the prompt without a cache ([prompt × vocab]), then each decode step on the cache ([vocab]). */
async function scriptLogits(path: string, graph: LlamaGraphKind): Promise<Float32Array[]> {
  const lm = await CausalLm.load(path, { device: 'cpu', threads: 1, graph });
  try {
    let output = await lm.forward({ ids: [PROMPT], attentionMask: [PROMPT.map(() => 1)], positionIds: [PROMPT.map((_, index) => index)] }, await lm.emptyCache(1));
    const logits = [output.logits];
    for (const [step, token] of DECODED.entries()) {
      const past = PROMPT.length + step;
      output = await lm.forward({ ids: [[token]], attentionMask: [Array<number>(past + 1).fill(1)], positionIds: [[past]] }, output.cache);
      logits.push(output.logits);
    }
    return logits;
  } finally {
    await lm.release();
  }
}

interface Worst {
  /** Largest |actual - expected| over every call's logits. */
  readonly difference: number;
  /** Largest |expected|. */
  readonly scale: number;
  /** Where the largest difference is: "decode step 1[17]: 0.41 vs 0.40". */
  readonly at: string;
}

function worstDifference(actual: readonly Float32Array[], expected: readonly Float32Array[]): Worst {
  assert.equal(actual.length, expected.length, 'calls');
  let difference = 0, scale = 0, at = 'nowhere';
  expected.forEach((values, call) => {
    const got = actual[call] as Float32Array;
    assert.equal(got.length, values.length, `${CALLS[call]}: logits`);
    values.forEach((value, index) => {
      scale = Math.max(scale, Math.abs(value));
      const gap = Math.abs((got[index] as number) - value);
      if (!(gap <= difference)) { // NaN too
        difference = Number.isNaN(gap) ? Infinity : gap;
        at = `${CALLS[call]}[${index}]: ${got[index]} vs ${value}`;
      }
    });
  });
  return { difference, scale, at };
}

/** Every logit of every call the same float32 value. */
function assertSameLogits(actual: readonly Float32Array[], expected: readonly Float32Array[]): void {
  const worst = worstDifference(actual, expected);
  assert.equal(worst.difference, 0, `logits ${worst.at}`);
}

describe('GGUF and safetensors of the same float weights give the same logits', () => {
  // F16: the safetensors store F16 too; the GGUF stores its matrices F16 and its norms F32, as llama.cpp does
  for (const dtype of ['F32', 'F16'] as const satisfies readonly StoredDtype[]) {
    const stored = checkpoint(`float-${dtype}`, { dtype, seed: 41 });
    const gguf = join(root, `float-${dtype}.gguf`);
    convertToGguf(stored, gguf, dtype);
    for (const graph of LLAMA_GRAPH_KINDS) {
      test(`${dtype}, ${graph} graph: a prompt and two cached decode steps, bit for bit`, async () => {
        assertSameLogits(await scriptLogits(gguf, graph), await scriptLogits(stored.dir, graph));
      });
    }
  }
});

describe(`a quantised GGUF gives the logits of its dequantised weights (within ${QUANTISED_TOLERANCE} of the largest)`, () => {
  const original = checkpoint('quantised-original', { seed: 42 });
  // Q8_0 and Q6_K are not repacked (8-bit MatMulNBits is slow on the CPU): both graphs use their float weights
  for (const type of ['Q4_0', 'Q4_1', 'Q4_K', 'Q8_0', 'Q6_K'] as const satisfies readonly QuantType[]) {
    const gguf = join(root, `quantised-${type}.gguf`);
    const written = convertToGguf(original, gguf, type);
    // the same folder, with model.safetensors holding the values the quants stand for (HF row order)
    const dequantised = join(root, `dequantised-${type}`);
    cpSync(original.dir, dequantised, { recursive: true });
    const tensors = [...written].map(([name, { shape, data }]) => ({ name, shape, data }));
    writeFileSync(join(dequantised, 'model.safetensors'), encodeSafetensors(tensors, 'F32').bytes);
    for (const graph of LLAMA_GRAPH_KINDS) {
      // unfused: float MatMuls on the dequantised weights, as the safetensors model has; fused: the
      // 4-bit types on MatMulNBits, which sums in another order
      test(`${type}, ${graph} graph: a prompt and two cached decode steps${graph === 'unfused' ? ', bit for bit' : ''}`, async (t) => {
        const worst = worstDifference(await scriptLogits(gguf, graph), await scriptLogits(dequantised, graph));
        t.diagnostic(`max |Δ| ${worst.difference.toExponential(2)} (${(worst.difference / worst.scale).toExponential(2)} of max |logit| ${worst.scale.toFixed(2)}) at ${worst.at}`);
        assert.ok(worst.difference <= (graph === 'unfused' ? 0 : QUANTISED_TOLERANCE * worst.scale), `logits ${worst.at}: max |Δ| ${worst.difference}, max |logit| ${worst.scale}`);
      });
    }
  }

  test('the tolerance is tight: Q8_0, the finest type, is far beyond it from the weights before quantising', async (t) => {
    const worst = worstDifference(await scriptLogits(join(root, 'quantised-Q8_0.gguf'), 'fused'), await scriptLogits(original.dir, 'fused'));
    t.diagnostic(`max |Δ| ${worst.difference.toExponential(2)} (${(worst.difference / worst.scale).toExponential(2)} of max |logit|)`);
    assert.ok(worst.difference > 100 * QUANTISED_TOLERANCE * worst.scale, `max |Δ| ${worst.difference}`);
  });
});

describe('loadLanguageModel', () => {
  test('a GGUF converted from a folder tokenises as the folder\'s tokenizer.json: merges, byte fallback, specials', async () => {
    const stored = checkpoint('tokenizer', { seed: 43 });
    const file = join(root, 'tokenizer.gguf');
    convertToGguf(stored, file);
    const options = { device: 'cpu', threads: 1 } as const;
    const [fromGguf, fromFolder] = [await loadLanguageModel(file, options), await loadLanguageModel(stored.dir, options)];
    try {
      const texts = ['search for hotels in the city', 'Thought: I should call the search tool first.', 'action input: {"city": "paris", "max": 5}', 'héllo wörld 😀', '  two  spaces ', '<s>the weather</s>'];
      const ids = texts.map((text) => fromFolder.tokenizer.encode(text));
      for (const [index, text] of texts.entries()) {
        assert.deepEqual(fromGguf.tokenizer.encode(text), ids[index], text);
        assert.deepEqual(fromGguf.tokenizer.encode(text, { addSpecialTokens: false }), fromFolder.tokenizer.encode(text, { addSpecialTokens: false }), text);
        assert.equal(fromGguf.tokenizer.decode(ids[index] as number[]), fromFolder.tokenizer.decode(ids[index] as number[]), text);
      }
      const all = ids.flat();
      assert.ok(all.some((id) => id >= LLAMA_TOKENIZER_BASE_SIZE), 'the texts use merged pieces');
      assert.ok(all.some((id) => id >= 3 && id < 259), 'the texts use byte tokens');
      assert.equal(all.filter((id) => id === 1).length, texts.length + 1, 'BOS on each text, and the <s> written in one');
    } finally {
      await fromGguf.lm.release();
      await fromFolder.lm.release();
    }
  });
});
