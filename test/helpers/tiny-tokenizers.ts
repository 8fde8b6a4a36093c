/**
 * Small tokenizer.json files of a given vocabulary size, in the layouts of the real ones:
 * LLaMA-2's SentencePiece BPE with byte fallback, and bert-base's WordPiece. The BPE merges are
 * trained here, deterministically, on a short built-in text.
 */

const CORPUS = `the quick brown fox jumps over the lazy dog. search for hotels in the city and call the
api with the name of the city. thought: i should call the search tool first. action: search_hotels
action input: {"city": "paris", "max": 5} observation: the hotels are listed below. final answer:
there are three hotels near the station, and the weather in the city is sunny. hello world, this
is a test of the tokenizer on sentences that repeat the same words: tool, tools, search, searching,
searched, answer, answers, hotel, hotels, weather, station, stations, information, function.`;

/** An added special token of tokenizer.json. */
export const special = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

const LLAMA_CHARACTERS = [
  '▁',
  ...'abcdefghijklmnopqrstuvwxyz',
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'0123456789',
  ...`.,:;!?'"(){}[]_-/`,
];
const BYTE_TOKENS = Array.from({ length: 256 }, (_, byte) => `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);

/** <unk> <s> </s>, 256 byte tokens, and the single characters. */
export const LLAMA_TOKENIZER_BASE_SIZE = 3 + BYTE_TOKENS.length + LLAMA_CHARACTERS.length;

/** Greedy BPE training on the corpus (most frequent pair first, ties by the pair's text). */
function trainMerges(vocab: Map<string, number>, size: number): string[] {
  const counts = new Map<string, number>();
  for (const word of CORPUS.replace(/[^a-z]+/g, ' ').trim().split(' ')) counts.set(`▁${word}`, (counts.get(`▁${word}`) ?? 0) + 1);
  let words = [...counts].map(([word, count]) => ({ symbols: [...word], count }));
  const merges: string[] = [];
  while (vocab.size < size) {
    const pairs = new Map<string, number>();
    for (const { symbols, count } of words)
      for (let index = 0; index + 1 < symbols.length; index++) {
        const pair = `${symbols[index]} ${symbols[index + 1]}`;
        pairs.set(pair, (pairs.get(pair) ?? 0) + count);
      }
    let best: [string, number] | undefined;
    for (const entry of pairs) if (best === undefined || entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0])) best = entry;
    if (best === undefined) break;
    const [left, right] = best[0].split(' ') as [string, string];
    merges.push(best[0]);
    if (!vocab.has(left + right)) vocab.set(left + right, vocab.size);
    words = words.map(({ symbols, count }) => {
      const merged: string[] = [];
      for (let index = 0; index < symbols.length; index++) {
        if (symbols[index] === left && symbols[index + 1] === right) {
          merged.push(left + right);
          index++;
        } else merged.push(symbols[index]!);
      }
      return { symbols: merged, count };
    });
  }
  return merges;
}

/**
 * LLaMA-2's tokenizer.json (meta-llama/Llama-2-7b-hf's layout: legacy SentencePiece BPE, byte
 * fallback, `<s>` prepended, `<unk>` `<s>` `</s>` as ids 0-2) around a vocabulary and its merges
 * ("a b" strings or pairs, in priority order).
 */
export function llama2TokenizerJson(vocab: Record<string, number>, merges: readonly (string | readonly [string, string])[]) {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '▁' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<s>', type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** A LLaMA-2-layout tokenizer of `vocabSize` tokens with merges trained here. */
export function llamaSentencePieceTokenizer(vocabSize: number, maxLength: number) {
  if (vocabSize < LLAMA_TOKENIZER_BASE_SIZE) throw new Error(`vocab_size must be at least ${LLAMA_TOKENIZER_BASE_SIZE}`);
  const vocab = new Map<string, number>([...['<unk>', '<s>', '</s>'], ...BYTE_TOKENS, ...LLAMA_CHARACTERS].map((token, id) => [token, id]));
  const merges = trainMerges(vocab, vocabSize);
  for (let extra = 0; vocab.size < vocabSize; extra++) vocab.set(`▁extra${extra}`, vocab.size);
  const tokenizer = llama2TokenizerJson(Object.fromEntries(vocab), merges);
  const tokenizerConfig = {
    add_bos_token: true,
    add_eos_token: false,
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    pad_token: null,
    clean_up_tokenization_spaces: false,
    legacy: true,
    model_max_length: maxLength,
    tokenizer_class: 'LlamaTokenizer',
    added_tokens_decoder: Object.fromEntries(tokenizer.added_tokens.map(({ id, ...token }) => [String(id), token])),
  };
  return { tokenizer, tokenizerConfig };
}

const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const BERT_CHARACTERS = [...'abcdefghijklmnopqrstuvwxyz0123456789', ...`.,:;!?'"(){}[]_-/&=`];

/** The smallest vocabulary that can spell any lower-case ASCII word: specials, characters, ##characters. */
export const BERT_TOKENIZER_BASE_SIZE = BERT_SPECIALS.length + BERT_CHARACTERS.length + 36;

/** bert-base-uncased's tokenizer.json layout (WordPiece, `[CLS] $A [SEP]`), ids 0-4 special. */
export function bertWordPieceTokenizer(vocabSize: number, maxLength: number) {
  if (vocabSize < BERT_TOKENIZER_BASE_SIZE) throw new Error(`vocab_size must be at least ${BERT_TOKENIZER_BASE_SIZE}`);
  const words = [...new Set(CORPUS.replace(/[^a-z]+/g, ' ').trim().split(' '))].filter((word) => word.length > 1);
  const pieces = ['##s', '##ing', '##ed', '##er', '##ly', '##tion', '##es', '##st', '##th', '##he', '##in', '##an', '##on', '##re'];
  const tokens = [...BERT_SPECIALS, ...BERT_CHARACTERS, ...[...'abcdefghijklmnopqrstuvwxyz0123456789'].map((c) => `##${c}`)];
  for (const token of [...words, ...pieces]) if (tokens.length < vocabSize && !tokens.includes(token)) tokens.push(token);
  while (tokens.length < vocabSize) tokens.push(`[unused${tokens.length}]`);
  const sequence = (id: string, typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const specialToken = (id: string, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.map((content, id) => special(id, content)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [specialToken('[CLS]', 0), sequence('A', 0), specialToken('[SEP]', 0)],
      pair: [specialToken('[CLS]', 0), sequence('A', 0), specialToken('[SEP]', 0), sequence('B', 1), specialToken('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(tokens.map((token, id) => [token, id])),
    },
  };
  const tokenizerConfig = {
    do_lower_case: true,
    model_max_length: maxLength,
    tokenizer_class: 'BertTokenizer',
    clean_up_tokenization_spaces: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
  };
  return { tokenizer, tokenizerConfig };
}
