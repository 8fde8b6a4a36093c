import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reactParse } from '../../src/llm/react-parser.js';

// Expected values computed once with upstream's `react_parser` under CPython 3
// (toolbench/inference/utils.py); each row is [text, thought, action, action_input].
const CASES: readonly (readonly [label: string, text: string, thought: string, action: string, actionInput: string])[] = [
  [
    'all three markers',
    'Thought: I should get a quote.\nAction: love_quote_for_olato_quotes\nAction Input: {}',
    'I should get a quote.',
    'love_quote_for_olato_quotes',
    '{}',
  ],
  [
    'no "Thought: " (thought starts at code point 8)',
    'I should get a quote.\nAction: love_quote_for_olato_quotes\nAction Input: {}',
    ' get a quote.',
    'love_quote_for_olato_quotes',
    '{}',
  ],
  [
    'no "Action: " (thought ends at -1, action starts at 7)',
    'Thought: I should get a quote.\nAction Input: {}',
    'I should get a quote.\nAction Input: {',
    ': I should get a quote.',
    '{}',
  ],
  [
    'no "Action Input: " (action ends at -1, input starts at 13)',
    'Thought: I should get a quote.\nAction: love_quote_for_olato_quotes',
    'I should get a quote.',
    'love_quote_for_olato_quote',
    'ould get a quote.\nAction: love_quote_for_olato_quotes',
  ],
  ['only "Thought: "', 'Thought: I should get a quote.', 'I should get a quote', ': I should get a quote', 'ould get a quote.'],
  [
    'only "Action: "',
    'Action: love_quote_for_olato_quotes',
    'love_quote_for_olato_quote',
    'love_quote_for_olato_quote',
    'quote_for_olato_quotes',
  ],
  ['only "Action Input: "', 'Action Input: {"is_id": 12}', 'nput: {"is_id": 12', 'Input: {"is_id": 12', '{"is_id": 12}'],
  ['no marker at all', 'The model wrote no markers at all.', 'l wrote no markers at all', 'el wrote no markers at all', 'te no markers at all.'],
  ['empty text', '', '', '', ''],
  ['text shorter than the offsets', 'abc', '', '', ''],
  [
    '"Action: " inside the thought is found first',
    'Thought: I will use Action: twice\nAction: f\nAction Input: {}',
    'I will use Action: twice',
    'twice\nAction: f',
    '{}',
  ],
  [
    'markers without newlines',
    'Thought: t Action: a Action Input: {}',
    't Action: a Action Input: {',
    'a Action Input: {',
    '{}',
  ],
  ['markers in reverse order', 'Action Input: {}\nAction: a\nThought: t', '', 'a\nThought: ', '{}\nAction: a\nThought: t'],
  ['no trimming', '\nThought: t\nAction: a\nAction Input: {}\n', 't', 'a', '{}\n'],
];

// Python counts code points: these rows would split surrogate pairs if sliced in UTF-16 units.
const ASTRAL_CASES: typeof CASES = [
  [
    'astral characters around the markers',
    '\u{1F600}Thought: \u{1D4B3} thinks\nAction: f\u{1F600}\nAction Input: {"q": "\u{1F600}"}',
    '\u{1D4B3} thinks',
    'f\u{1F600}',
    '{"q": "\u{1F600}"}',
  ],
  [
    'no marker: offsets 8/7/13 and end -1 count code points',
    '\u{1F600}'.repeat(10) + ' done \u{1F600}',
    '\u{1F600}\u{1F600} done ',
    '\u{1F600}\u{1F600}\u{1F600} done ',
    'ne \u{1F600}',
  ],
  [
    'end -1 drops a whole astral character',
    'Thought: ends with astral \u{1F600}',
    'ends with astral ',
    ': ends with astral ',
    ' with astral \u{1F600}',
  ],
  [
    'marker found after astral characters',
    '\u{1F600}'.repeat(10) + '\nAction: \u{1F600}\u{1F600}x\u{1F600}',
    '\u{1F600}\u{1F600}',
    '\u{1F600}\u{1F600}x',
    'tion: \u{1F600}\u{1F600}x\u{1F600}',
  ],
];

for (const [label, text, thought, action, actionInput] of [...CASES, ...ASTRAL_CASES]) {
  test(`reactParse: ${label} gives what Python's react_parser gives`, () => {
    assert.deepEqual(reactParse(text), { thought, action, actionInput });
  });
}

test('reactParse never returns a lone surrogate', () => {
  const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  for (const [, text] of ASTRAL_CASES) {
    for (const part of Object.values(reactParse(text))) assert.doesNotMatch(part, lone);
  }
});
