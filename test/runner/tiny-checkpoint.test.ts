/**
 * The tiny checkpoints the runner's tests use (test/helpers/tiny-checkpoint.ts): float16/bfloat16
 * rounding, the safetensors bytes read back by an independent reader, shards and their index,
 * config.json, and the tokenizer.json files.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from '../helpers/safetensors-writer.js';
import { writeTinyBert, writeTinyLlama, type TinyLlamaOptions } from '../helpers/tiny-checkpoint.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-tiny-checkpoint-'));
after(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const freshDir = () => join(root, `checkpoint-${counter++}`);
const llama = (options: TinyLlamaOptions = {}) => writeTinyLlama(freshDir(), options);

function loadTokenizer(dir: string): Tokenizer {
  const read = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as object;
  return new Tokenizer(read('tokenizer.json'), read('tokenizer_config.json'));
}

describe('tiny checkpoints', () => {
  test('float16 and bfloat16 conversions round to nearest even', () => {
    const half: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [0.1, 0x2e66],
      [65504, 0x7bff], // largest finite
      [65520, 0x7c00], // halfway to the next power rounds up to infinity
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // halfway, ties to even (zero)
      [1.5 * 2 ** -25, 0x0001],
      [1 + 2 ** -11, 0x3c00], // halfway, ties to even
      [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000],
      [Infinity, 0x7c00],
    ];
    for (const [value, bits] of half) assert.equal(toFloat16Bits(value), bits, `f16 ${value}`);
    for (const value of [1, -2, 65504, 2 ** -24, 2 ** -14, -0, Infinity, 1 + 2 ** -10])
      assert.equal(fromFloat16Bits(toFloat16Bits(value)), value);
    for (let bits = 0; bits < 0x7c00; bits += 37) assert.equal(toFloat16Bits(fromFloat16Bits(bits)), bits);
    const brain: [number, number][] = [
      [1, 0x3f80],
      [-2, 0xc000],
      [1 + 2 ** -8, 0x3f80], // halfway, ties to even
      [1 + 3 * 2 ** -8, 0x3f82],
      [3.4e38, 0x7f80], // above the largest bfloat16: infinity
      [2 ** -133, 0x0001], // float32 subnormals keep their top bits
    ];
    for (const [value, bits] of brain) assert.equal(toBfloat16Bits(value), bits, `bf16 ${value}`);
    assert.ok(Number.isNaN(fromBfloat16Bits(toBfloat16Bits(NaN))), 'bf16 NaN');
    assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN))), 'f16 NaN');
  });

  test('F16 and BF16 files hold the returned weights, each the nearest value to the F32 one', () => {
    const exact = llama({ seed: 21 });
    for (const [dtype, relative] of [['F16', 2 ** -11], ['BF16', 2 ** -8]] as const) {
      const rounded = llama({ seed: 21, dtype });
      const stored = readSafetensors(join(rounded.dir, 'model.safetensors'));
      assert.deepEqual([...stored.keys()].sort(), [...rounded.weights.keys()].sort());
      for (const [name, values] of rounded.weights) {
        const { dtype: fileDtype, shape, data } = stored.get(name)!;
        assert.equal(fileDtype, dtype);
        assert.deepEqual(shape, rounded.shapes.get(name));
        assert.deepEqual(data, values, name);
        const far = exact.weights.get(name)!.findIndex((value, i) => Math.abs(values[i]! - value) > Math.abs(value) * relative + 2 ** -24);
        assert.equal(far, -1, `${name}[${far}] is not the ${dtype} nearest to the F32 value`);
      }
      const config = JSON.parse(readFileSync(join(rounded.dir, 'config.json'), 'utf8')) as { torch_dtype: string };
      assert.equal(config.torch_dtype, dtype === 'F16' ? 'float16' : 'bfloat16');
    }
  });

  test('two shards with an index hold exactly the weights of the single file', () => {
    const single = llama({ seed: 2 });
    const sharded = llama({ seed: 2, shards: 2 });
    const index = JSON.parse(readFileSync(join(sharded.dir, 'model.safetensors.index.json'), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    assert.deepEqual(sharded.files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    assert.deepEqual(Object.keys(index.weight_map).sort(), [...single.weights.keys()].sort());
    let total = 0;
    for (const file of sharded.files) {
      const tensors = readSafetensors(join(sharded.dir, file));
      assert.ok(tensors.size > 0, `${file} holds tensors`);
      for (const [name, { data }] of tensors) {
        assert.equal(index.weight_map[name], file);
        assert.deepEqual(data, single.weights.get(name));
        total += data.length * 4;
      }
    }
    assert.equal(index.metadata.total_size, total);
  });

  test('config.json is the returned config, with HF names and linear rope_scaling', () => {
    const { dir, config } = llama({ ropeScalingFactor: 2, numKeyValueHeads: 1, headDim: 16 });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')), config);
    assert.deepEqual(config.rope_scaling, { type: 'linear', rope_type: 'linear', factor: 2 });
    assert.equal(config.head_dim, 16);
    assert.throws(() => llama({ vocabSize: 100 }), /vocab_size must be at least/);
  });

  test('the LLaMA tokenizer.json loads, spans the vocabulary, prepends <s> and falls back to bytes', () => {
    const { dir, config } = llama({ vocabSize: 400 });
    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.get_vocab(true).size, config.vocab_size);
    const text = 'Thought: search the hotels in Paris, naïve 镇!';
    const { ids, tokens } = tokenizer.encode(text);
    assert.equal(ids[0], 1);
    assert.ok(ids.every((id: number) => id >= 0 && id < config.vocab_size), ids.join(','));
    assert.ok(tokens.includes('▁search') && tokens.includes('<0xE9>'), tokens.join(' '));
    assert.equal(tokenizer.decode(ids, { skip_special_tokens: true }), text);
  });

  test('the BERT tokenizer.json lower-cases, splits punctuation and wraps in [CLS] … [SEP]', () => {
    const { dir, config } = writeTinyBert(freshDir());
    const tokenizer = loadTokenizer(dir);
    assert.equal(tokenizer.get_vocab(true).size, config.vocab_size);
    const { tokens, ids } = tokenizer.encode('Hello, World! Searching 镇');
    assert.deepEqual(tokens, ['[CLS]', 'hello', ',', 'world', '!', 'searching', '[UNK]', '[SEP]']);
    assert.equal(ids[0], 2);
    assert.equal(ids.at(-1), 3);
  });
});

/** An independent safetensors reader: header, then F32/F16/BF16 decoded bit by bit. */
function readSafetensors(file: string): Map<string, { dtype: string; shape: number[]; data: Float32Array }> {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLength % 8, 0);
  type Entry = { dtype: string; shape: number[]; data_offsets: [number, number] };
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, Entry>;
  const base = 8 + headerLength;
  const tensors = new Map<string, { dtype: string; shape: number[]; data: Float32Array }>();
  let expectedStart = 0;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [start, end] = entry.data_offsets;
    assert.equal(start, expectedStart, `${name} follows the previous tensor`);
    expectedStart = end;
    const width = entry.dtype === 'F32' ? 4 : 2;
    const data = new Float32Array((end - start) / width);
    const scratch = Buffer.alloc(4);
    for (let i = 0; i < data.length; i++) {
      const at = base + start + i * width;
      if (entry.dtype === 'F32') data[i] = bytes.readFloatLE(at);
      else if (entry.dtype === 'BF16') {
        scratch.writeUInt16LE(0, 0);
        scratch.writeUInt16LE(bytes.readUInt16LE(at), 2);
        data[i] = scratch.readFloatLE(0);
      } else {
        const h = bytes.readUInt16LE(at);
        const exponent = (h >> 10) & 0x1f;
        const magnitude = exponent === 0 ? (h & 0x3ff) / 2 ** 24 : 2 ** (exponent - 25) * (1024 + (h & 0x3ff));
        data[i] = h & 0x8000 ? -magnitude : magnitude;
      }
    }
    tensors.set(name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  assert.equal(bytes.length, base + expectedStart);
  return tensors;
}
