import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ToolbenchError } from '../../src/util/errors.js';
import { TextTokenizer } from '../../src/runner/tokenizer.js';
import { cleanUpTokenizationSpaces } from '../../src/runner/stream-decoder.js';
import { bertBaseUncasedTokenizerFiles, llama2GoldenCases, llama2TokenizerFiles } from '../helpers/golden-tokenizers.js';

const llama = TextTokenizer.fromFiles(llama2TokenizerFiles());
const bert = TextTokenizer.fromFiles(bertBaseUncasedTokenizerFiles());
const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
const withLlamaConfig = (changes: object) =>
  TextTokenizer.fromFiles({ tokenizerJson: llama2TokenizerFiles().tokenizerJson, tokenizerConfig: { ...llama2TokenizerFiles().tokenizerConfig, ...changes } });

/** mulberry32: a small seeded generator, so a failing fuzz case can be replayed. */
function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n);
  };
}

function streamed(tokenizer: TextTokenizer, ids: readonly number[], skipSpecialTokens: boolean): string[] {
  const decoder = tokenizer.streamDecoder({ skipSpecialTokens });
  return [...ids.map((id) => decoder.push(id)), decoder.flush()];
}

function assertStreamsLikeDecode(tokenizer: TextTokenizer, ids: readonly number[], skipSpecialTokens: boolean): void {
  const parts = streamed(tokenizer, ids, skipSpecialTokens);
  const label = `ids ${JSON.stringify(ids)} (skipSpecialTokens ${skipSpecialTokens}): parts ${JSON.stringify(parts)}`;
  assert.equal(parts.join(''), tokenizer.decode(ids, { skipSpecialTokens }), label);
}

describe('LLaMA-2 SentencePiece BPE', () => {
  test('encodes the official golden cases to the ids of Meta’s tokenizer and decodes them back', () => {
    const cases = llama2GoldenCases();
    assert.equal(cases.length, 12);
    for (const [text, ids] of cases) {
      assert.deepEqual(llama.encode(text), ids, JSON.stringify(text));
      assert.equal(llama.decode(ids, { skipSpecialTokens: true }), text);
    }
  });

  test('knows its special tokens and vocabulary size', () => {
    assert.deepEqual([llama.bosId, llama.eosId, llama.padId, llama.vocabSize], [1, 2, undefined, 32000]);
    assert.equal(llama.tokenId('<0x0A>'), 13);
    assert.equal(llama.tokenId('▁grabbed'), undefined);
    assert.deepEqual(llama.encode('a</s>b', { addSpecialTokens: false }), [263, 2, 289]);
  });

  test('adds BOS as add_bos_token says, and EOS when add_eos_token is set', () => {
    assert.deepEqual(llama.encode('grabbed'), [1, 2646, 1327, 287]);
    assert.deepEqual(llama.encode('grabbed', { addSpecialTokens: false }), [2646, 1327, 287]);
    assert.deepEqual(withLlamaConfig({ add_bos_token: false }).encode('grabbed'), [2646, 1327, 287]);
    assert.deepEqual(withLlamaConfig({ add_eos_token: true }).encode('grabbed'), [1, 2646, 1327, 287, 2]);
    assert.deepEqual(withLlamaConfig({ add_bos_token: false, add_eos_token: true }).encode('grabbed', { addSpecialTokens: false }), [2646, 1327, 287]);
    assert.throws(() => withLlamaConfig({ add_eos_token: true, eos_token: undefined }), { code: 'input.invalid', exitCode: 2 });
  });

  test('decodes special tokens unless told to skip them', () => {
    assert.equal(llama.decode([1, 2646, 1327, 287]), '<s> grabbed');
    assert.equal(llama.decode([1, 2646, 1327, 287, 2], { skipSpecialTokens: true }), 'grabbed');
    assert.equal(llama.decode([]), '');
  });
});

describe('bert-base-uncased WordPiece', () => {
  test('encodes the documented cases to their ids', () => {
    assert.deepEqual(bert.encode('Hello, my dog is cute'), [101, 7592, 1010, 2026, 3899, 2003, 10140, 102]);
    assert.deepEqual(bert.encode('i like strawberries'), [101, 1045, 2066, 13137, 20968, 102]);
    assert.deepEqual(bert.encode('hello world', { addSpecialTokens: false }), [7592, 2088]);
  });

  test('splits words into ## pieces, lowercases, strips accents and splits CJK characters', () => {
    const pieces = (text: string) => bert.encode(text, { addSpecialTokens: false }).map((id) => bert.decode([id]));
    assert.deepEqual(pieces("John Johanson's house"), ['john', 'johan', '##son', "'", 's', 'house']); // google-research/bert README
    assert.deepEqual(pieces('Héllo WÖRLD naïve'), ['hello', 'world', 'naive']);
    assert.deepEqual(pieces('東京の日本語'), ['東', '京', 'の', '日', '本', '語']);
  });

  test('decodes with the clean-up of spaces that bert-base-uncased asks for', () => {
    assert.equal(bert.decode(bert.encode("Hello, my dog isn't cute!"), { skipSpecialTokens: true }), "hello, my dog isn't cute!");
    assert.equal(bert.decode(bert.encode('Hello')), '[CLS] hello [SEP]');
    assert.deepEqual([bert.bosId, bert.eosId, bert.padId, bert.vocabSize, bert.tokenId('[SEP]')], [undefined, undefined, 0, 30522, 102]);
  });
});

describe('batches', () => {
  test('pads on the right with the pad id and masks the padding', () => {
    assert.deepEqual(bert.encodeBatch(['hello world', 'hi']), {
      ids: [
        [101, 7592, 2088, 102],
        [101, 7632, 102, 0],
      ],
      attentionMask: [
        [1, 1, 1, 1],
        [1, 1, 1, 0],
      ],
    });
  });

  test('pads on the left for generation, with EOS where there is no pad token', () => {
    assert.deepEqual(llama.encodeBatch(['hello world', 'hi'], { padding: 'left' }), {
      ids: [
        [1, 22172, 3186],
        [2, 1, 7251],
      ],
      attentionMask: [
        [1, 1, 1],
        [0, 1, 1],
      ],
    });
    assert.deepEqual(withLlamaConfig({ padding_side: 'left', pad_token: '<unk>' }).encodeBatch(['hello world', 'hi']).ids[1], [0, 1, 7251]);
  });

  test('leaves rows ragged without padding, and an empty batch empty', () => {
    assert.deepEqual(llama.encodeBatch(['hello world', 'hi'], { padding: 'none', addSpecialTokens: false }), {
      ids: [[22172, 3186], [7251]],
      attentionMask: [[1, 1], [1]],
    });
    assert.deepEqual(bert.encodeBatch([]), { ids: [], attentionMask: [] });
  });

  test('truncates the text’s own tokens and keeps the special tokens around them', () => {
    const texts = ['hello world how are you', 'hi'];
    assert.deepEqual(bert.encodeBatch(texts, { maxLength: 4 }).ids, [
      [101, 7592, 2088, 102],
      [101, 7632, 102, 0],
    ]);
    assert.deepEqual(bert.encodeBatch(texts, { maxLength: 4, truncation: 'left' }).ids[0], [101, 2024, 2017, 102]);
    assert.deepEqual(llama.encodeBatch(texts, { maxLength: 3, truncation: 'left' }).ids[0], [1, 526, 366]);
    assert.deepEqual(llama.encodeBatch(texts, { maxLength: 2, addSpecialTokens: false }).ids[0], [22172, 3186]);
    assert.deepEqual(bert.encodeBatch(texts, { maxLength: 2 }).ids[0], [101, 102]);
  });

  test('rejects a maxLength that is not a positive integer or leaves no room for the special tokens', () => {
    assert.throws(() => bert.encodeBatch(['hello world'], { maxLength: 1 }), { code: 'usage.invalid', exitCode: 2 });
    assert.throws(() => bert.encodeBatch(['hello'], { maxLength: 0 }), { code: 'usage.invalid', exitCode: 2 });
    assert.throws(() => bert.encodeBatch(['hello'], { maxLength: 2.5 }), { code: 'usage.invalid', exitCode: 2 });
  });
});

describe('streaming detokenisation', () => {
  test('holds back byte-fallback bytes until the character is whole', () => {
    // '🦙Ꙋ' is 0xF0 9F A6 99 then 0xEA 99 8A, as byte tokens <0xF0> = 243 ...
    const ids = llama.encode(' 🦙Ꙋ!', { addSpecialTokens: false });
    assert.deepEqual(ids, [259, 243, 162, 169, 156, 237, 156, 141, 29991]); // '▁▁' then bytes
    assert.deepEqual(streamed(llama, ids, true), [' ', '', '', '', '🦙', '', '', 'Ꙋ', '!', '']);
  });

  test('emits CJK, emoji and ToolLLaMA-style text piece by piece, never a partial character', () => {
    for (const text of ['镇 Ꙋ 🦙 ü ß', 'Thought: call API\nAction: search_hotels\nAction Input: {"city": "Paris"}</s>', '👩‍👩‍👧 😀😀 \t中文']) {
      const ids = llama.encode(text);
      const parts = streamed(llama, ids, true);
      assert.equal(parts.join(''), llama.decode(ids, { skipSpecialTokens: true }));
      assert.ok(parts.every((part) => !part.includes('\uFFFD')), JSON.stringify(parts));
      assert.ok(parts.filter((part) => part !== '').length > 5);
    }
  });

  test('emits text as soon as it is final: one push per word for plain text', () => {
    assert.deepEqual(streamed(llama, llama.encode('hello world'), true), ['', 'hello', ' world', '']);
    assert.deepEqual(streamed(bert, bert.encode('hello world strawberries'), true), ['', 'hello', ' world', ' straw', 'berries', '', '']);
  });

  test('holds back what the clean-up of spaces may still join: " \' s" and " n \' t"', () => {
    const ids = ['it', "'", 's', 'do', 'n', "'", 't', '.'].map((token) => bert.tokenId(token) as number);
    const parts = streamed(bert, ids, true);
    assert.deepEqual(parts, ['it', '', "'s", ' do', '', '', "n't", '.', '']);
    assert.equal(parts.join(''), "it's don't.");
    assert.equal(cleanUpTokenizationSpaces("it ' s do n ' t ."), "it's don't.");
  });

  test('flush ends the stream: a malformed byte is emitted as U+FFFD then, and the next push starts afresh', () => {
    const decoder = llama.streamDecoder();
    assert.equal(decoder.push(243), ''); // <0xF0>, a lead byte
    assert.equal(decoder.flush(), '\uFFFD');
    assert.equal(decoder.push(22172), 'hello');
    assert.equal(decoder.flush(), '');
  });

  const llamaSpecials = [0, 1, 2];
  const llamaPieces = ['▁', '▁▁', '▁hello', 'ing', '<0x0A>', '▁"', ':', '}'].map((token) => llama.tokenId(token) as number);

  /** Random ids, weighted towards the cases that make streaming hard. */
  function llamaIds(draw: (n: number) => number): number[] {
    const ids: number[] = [];
    const length = 1 + draw(30);
    while (ids.length < length) {
      const kind = draw(10);
      if (kind < 3) ids.push(draw(llama.vocabSize));
      else if (kind < 4) ids.push(llamaSpecials[draw(3)] as number);
      else if (kind < 6) ids.push(llamaPieces[draw(llamaPieces.length)] as number);
      else if (kind < 8) {
        const character = String.fromCodePoint([0xe9, 0x9547, 0xa64a, 0x1f999, 0x1f600, 0x10ffff][draw(6)] as number);
        const bytes = [...Buffer.from(character, 'utf8')];
        ids.push(...bytes.slice(0, draw(4) === 0 ? draw(bytes.length) : bytes.length).map((byte) => byte + 3)); // <0x00> is id 3
      } else ids.push(3 + draw(256));
    }
    return ids;
  }

  // runs of tokens that spell transformers' clean-up patterns (" .", " ' ", " n't", " 've", ...)
  const bertSnippets = ["n ' t", "' s", "' m", "' ##v ##e", "' ##r ##e", "' ve", "' re", 'do ##n', '. , ? !', "it ' ' s", '##s ##t'].map((snippet) =>
    snippet.split(' ').map((token) => bert.tokenId(token) as number),
  );

  function bertIds(draw: (n: number) => number): number[] {
    const ids: number[] = [];
    const length = 1 + draw(30);
    while (ids.length < length) {
      const kind = draw(10);
      if (kind < 4) ids.push(draw(bert.vocabSize));
      else if (kind < 5) ids.push([0, 100, 101, 102, 103][draw(5)] as number);
      else ids.push(...(bertSnippets[draw(bertSnippets.length)] as number[]));
    }
    return ids;
  }

  test('fuzz: the pushes and flush concatenate to decode(ids) for LLaMA-2 ids', () => {
    const draw = random(7);
    for (let round = 0; round < 400; round++) assertStreamsLikeDecode(llama, llamaIds(draw), round % 2 === 0);
  });

  test('fuzz: the pushes and flush concatenate to decode(ids) for bert-base-uncased ids', () => {
    const draw = random(11);
    assert.ok(bertSnippets.flat().every((id) => id !== undefined));
    for (let round = 0; round < 600; round++) assertStreamsLikeDecode(bert, bertIds(draw), round % 2 === 0);
  });
});

describe('byte-level BPE (GPT-2 layout, as SmolLM2 and Qwen use)', () => {
  // GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 onwards
  const printable = (byte: number) => (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
  let next = 0x100;
  const byteChars = Array.from({ length: 256 }, (_, byte) => String.fromCodePoint(printable(byte) ? byte : next++));
  const utf8 = (text: string) => [...Buffer.from(text, 'utf8')].map((byte) => byteChars[byte] as string).join('');
  const prefixes = (token: string) => [...token].map((_, end, chars) => chars.slice(0, end + 1).join('')).slice(1);
  const merged = ['é', '镇', '🦙', ' h', ' he', 'll'].map(utf8).flatMap(prefixes);
  const vocab = [...new Set([...byteChars, ...merged])];
  const merges = vocab.slice(256).map((token) => `${token.slice(0, -1)} ${token.slice(-1)}`);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = TextTokenizer.fromFiles({
    tokenizerJson: {
      added_tokens: [special(vocab.length, '<|endoftext|>')],
      pre_tokenizer: byteLevel,
      post_processor: byteLevel,
      decoder: byteLevel,
      model: { type: 'BPE', unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, vocab: Object.fromEntries(vocab.map((token, id) => [token, id])), merges },
    },
    tokenizerConfig: { eos_token: '<|endoftext|>', add_bos_token: false, clean_up_tokenization_spaces: false },
  });

  test('round-trips text through merged and single-byte tokens', () => {
    const text = 'hello héllo 镇 🦙 😀';
    const ids = tokenizer.encode(text);
    assert.ok(ids.includes(vocab.indexOf(utf8('🦙'))));
    assert.equal(tokenizer.decode(ids), text);
    assert.deepEqual(streamed(tokenizer, ids, false).join(''), text);
    assert.equal(tokenizer.eosId, vocab.length);
  });

  test('fuzz: the pushes and flush concatenate to decode(ids), partial characters held back', () => {
    const draw = random(13);
    const pieces = [...Buffer.from('é镇🦙😀', 'utf8')].map((byte) => vocab.indexOf(byteChars[byte] as string));
    for (let round = 0; round < 400; round++) {
      const ids = Array.from({ length: 1 + draw(30) }, () => (draw(4) === 0 ? draw(tokenizer.vocabSize) : (pieces[draw(pieces.length)] as number)));
      assertStreamsLikeDecode(tokenizer, ids, round % 2 === 0);
      assert.ok(streamed(tokenizer, ids, true).slice(0, -1).every((part) => !part.endsWith('\uFFFD')));
    }
  });
});

describe('TextTokenizer.fromDir', () => {
  const root = mkdtempSync(join(tmpdir(), 'toolbench-tokenizer-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const folder = (name: string, files: Record<string, string>) => {
    const dir = join(root, name);
    mkdirSync(dir);
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  };
  const llamaJson = JSON.stringify(llama2TokenizerFiles().tokenizerJson);

  test('reads tokenizer.json, tokenizer_config.json and special_tokens_map.json', () => {
    const dir = folder('llama', {
      'tokenizer.json': llamaJson,
      'tokenizer_config.json': JSON.stringify({ ...llama2TokenizerFiles().tokenizerConfig, pad_token: null }),
      'special_tokens_map.json': JSON.stringify({ bos_token: '</s>', pad_token: '<unk>' }),
    });
    const tokenizer = TextTokenizer.fromDir(dir);
    assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.padId], [1, 2, 0]);
    assert.deepEqual(tokenizer.encode('grabbed'), [1, 2646, 1327, 287]);
  });

  test('reads a folder with tokenizer.json alone', () => {
    const tokenizer = TextTokenizer.fromDir(folder('bare', { 'tokenizer.json': llamaJson }));
    assert.deepEqual([tokenizer.bosId, tokenizer.eosId, tokenizer.padId], [undefined, undefined, undefined]);
    assert.deepEqual(tokenizer.encode('grabbed'), [1, 2646, 1327, 287]);
  });

  const rejects = (dir: string, code: string, file: string) => {
    assert.throws(
      () => TextTokenizer.fromDir(dir),
      (error: unknown) => error instanceof ToolbenchError && error.code === code && error.exitCode === 2 && error.message.includes(file),
    );
  };

  test('a missing folder or tokenizer.json is an unreadable input naming it', () => {
    rejects(join(root, 'absent'), 'input.unreadable', 'absent');
    rejects(folder('empty', {}), 'input.unreadable', 'tokenizer.json');
  });

  test('bad JSON or a tokenizer the library cannot load is an invalid input naming the file', () => {
    rejects(folder('bad-json', { 'tokenizer.json': '{"model": ' }), 'input.invalid', 'tokenizer.json');
    rejects(folder('bad-config', { 'tokenizer.json': llamaJson, 'tokenizer_config.json': '[1, 2' }), 'input.invalid', 'tokenizer_config.json');
    rejects(folder('no-model', { 'tokenizer.json': '{"version": "1.0"}' }), 'input.invalid', 'tokenizer.json');
    rejects(folder('bad-model', { 'tokenizer.json': '{"model": {"type": "Nonsense"}}' }), 'input.invalid', 'tokenizer.json');
  });
});
