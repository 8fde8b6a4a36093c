import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatMessage } from '../../src/llm/backbone.js';
import { buildToolLlamaPrompt, processSystemMessage, TOOLLLAMA_HISTORIES, type ToolLlamaHistory } from '../../src/llm/toolllama-prompt.js';
import { AGENT_SYSTEM_PROMPT, AGENT_USER_PROMPT, FINISH_FUNCTION, TASK_DESCRIPTION_PREFIX, TOOLLLAMA_SYSTEM_REWRITE } from '../../src/protocol/prompts.js';
import type { OpenAIFunction } from '../../src/registry/function-schema.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyRepr } from '../../src/util/pyrepr.js';

// prompts.md §1.10: the two Olato Quotes functions exactly as shown there, then Finish.
const OLATO_FUNCTIONS: readonly OpenAIFunction[] = [
  {
    name: 'love_quote_for_olato_quotes',
    description:
      'This is the subfunction for tool "olato_quotes", you can use this tool.The description of this function is: "Gives you a random love quote."',
    parameters: { type: 'object', properties: {}, required: [], optional: [] },
  },
  {
    name: 'quote_by_id_for_olato_quotes',
    description: 'This is the subfunction for tool "olato_quotes", you can use this tool.The description of this function is: "Get the quote with id"',
    parameters: {
      type: 'object',
      properties: {
        is_id: { type: 'integer', description: 'quote id', example_value: '12' },
        lang: { type: 'string', description: '' },
      },
      required: ['is_id'],
      optional: ['lang'],
    },
  },
  FINISH_FUNCTION,
];

const SYSTEM: ChatMessage = {
  role: 'system',
  content: AGENT_SYSTEM_PROMPT.replace('{task_description}', `${TASK_DESCRIPTION_PREFIX}1.olato_quotes: Olato Quotes is a simple quote API.\n`),
};
const USER: ChatMessage = { role: 'user', content: AGENT_USER_PROMPT.replace('{input_description}', 'Give me a love quote.') };

// prompts.md §1.10, the JSON string literal, one line per element.
const EXPECTED_PROMPT = [
  "System: You are AutoGPT, you can use many tools(functions) to do the following task.",
  "First I will give you the task description, and your task start.",
  "At each step, you need to give your thought to analyze the status now and what to do next, with a function call to actually excute your step. Your output should follow this format:",
  "Thought:",
  "Action",
  "Action Input:",
  "",
  "After the call, you will get the call result, and you are now in a new state.",
  "Then you will analyze your status now, then decide what to do next...",
  "After many (Thought-call) pairs, you finally perform the task, then you can give your finial answer.",
  "Remember: ",
  "1.the state change is irreversible, you can't go back to one of the former state, if you want to restart the task, say \"I give up and restart\".",
  "2.All the thought is short, at most in 5 sentence.",
  "3.You can do more then one trys, so if your plan is to continusly try some conditions, you can do one of the conditions per try.",
  "Let's Begin!",
  "Task description: You should use functions to help handle the real time user querys. Remember:",
  "1.ALWAYS call \"Finish\" function at the end of the task. And the final answer should contain enough information to show to the user,If you can't handle the task, or you find that function calls always fail(the function is not valid now), use function Finish->give_up_and_restart.",
  "2.Do not use origin tool names, use only subfunctions' names.",
  "You have access of the following tools:",
  "1.olato_quotes: Olato Quotes is a simple quote API.",
  "",
  "Specifically, you have access to the following APIs: [{'name': 'love_quote_for_olato_quotes', 'description': 'This is the subfunction for tool \"olato_quotes\", you can use this tool.The description of this function is: \"Gives you a random love quote.\"', 'parameters': {'type': 'object', 'properties': {}, 'required': [], 'optional': []}}, {'name': 'quote_by_id_for_olato_quotes', 'description': 'This is the subfunction for tool \"olato_quotes\", you can use this tool.The description of this function is: \"Get the quote with id\"', 'parameters': {'type': 'object', 'properties': {'is_id': {'type': 'integer', 'description': 'quote id', 'example_value': '12'}, 'lang': {'type': 'string', 'description': ''}}, 'required': ['is_id'], 'optional': ['lang']}}, {'name': 'Finish', 'description': 'If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task in the current state, call this function to restart. Remember: you must ALWAYS call this function at the end of your attempt, and the only part that will be shown to the user is the final answer, so it should contain sufficient information.', 'parameters': {'type': 'object', 'properties': {'return_type': {'type': 'string', 'enum': ['give_answer', 'give_up_and_restart']}, 'final_answer': {'type': 'string', 'description': 'The final answer you want to give the user. You should have this field if \"return_type\"==\"give_answer\"'}}, 'required': ['return_type']}}]",
  "User: ",
  "Give me a love quote.",
  "Begin!",
  "",
  "Assistant:",
  "",
].join('\n');

/** The system and user lines of the §1.10 prompt (everything but the final `Assistant:\n`). */
const HEAD = EXPECTED_PROMPT.slice(0, -'Assistant:\n'.length);

test('the first-step prompt reproduces prompts.md §1.10 byte for byte', () => {
  for (const history of TOOLLLAMA_HISTORIES) {
    assert.equal(buildToolLlamaPrompt([SYSTEM, USER], OLATO_FUNCTIONS, { history }), EXPECTED_PROMPT, history);
  }
});

test('functions in the tools shape are unwrapped (StableToolBench passes tools)', () => {
  const tools = OLATO_FUNCTIONS.map((fn) => ({ type: 'function' as const, function: fn }));
  assert.equal(buildToolLlamaPrompt([SYSTEM, USER], tools, { history: 'stabletoolbench' }), EXPECTED_PROMPT);
});

test('processSystemMessage inserts the format instruction and appends str(functions)', () => {
  const content = 'Do it with a function call to actually excute your step. Go.';
  assert.equal(
    processSystemMessage(content, OLATO_FUNCTIONS),
    `Do it ${TOOLLLAMA_SYSTEM_REWRITE.replacement} Go.${TOOLLLAMA_SYSTEM_REWRITE.suffix}${pyRepr(OLATO_FUNCTIONS)}`,
  );
});

test('processSystemMessage without the search sentence throws llm.prompt', () => {
  assert.throws(
    () => processSystemMessage('You are value-GPT.', OLATO_FUNCTIONS),
    (error: unknown) => error instanceof ToolbenchError && error.code === 'llm.prompt' && error.exitCode === 1,
  );
});

test('with an empty function list the system message is not rewritten', () => {
  const prompt = buildToolLlamaPrompt([{ role: 'system', content: 'You are value-GPT.' }, { role: 'user', content: 'A or B?' }], [], {
    history: 'training',
  });
  assert.equal(prompt, 'System: You are value-GPT.\nUser: A or B?\nAssistant:\n');
});

// A DFSDT path after one step and a backtrack: the assistant turn as each shape stores it, the
// observation, and two diversity prompts already marked invalid.
const GENERATION = 'Thought: I need a love quote.\nAction: love_quote_for_olato_quotes\nAction Input: {}';
const OBSERVATION = '{"error": "", "response": "Love is all."}';
const DIVERSITY_1: ChatMessage = { role: 'user', content: 'This is not the first time (1).', valid: false };
const DIVERSITY_2: ChatMessage = { role: 'user', content: 'This is not the first time (2).', valid: false };

const FUNCTIONS_PATH: readonly ChatMessage[] = [
  SYSTEM,
  USER,
  {
    role: 'assistant',
    content: 'I need a love quote.',
    function_call: { name: 'love_quote_for_olato_quotes', arguments: '{}' },
  },
  { role: 'function', name: 'love_quote_for_olato_quotes', content: OBSERVATION },
  DIVERSITY_1,
  DIVERSITY_2,
];

const TOOLS_PATH: readonly ChatMessage[] = [
  SYSTEM,
  USER,
  {
    role: 'assistant',
    content: GENERATION,
    tool_calls: [{ id: 'aB3dE6gH', function: { name: 'love_quote_for_olato_quotes', arguments: '{}' }, type: 'function' }],
  },
  { role: 'tool', name: 'love_quote_for_olato_quotes', content: OBSERVATION, tool_call_id: 'aB3dE6gH' },
  DIVERSITY_1,
  DIVERSITY_2,
];

const TAIL =
  `Function: ${OBSERVATION}\n` + 'User: This is not the first time (1).\n' + 'User: This is not the first time (2).\n' + 'Assistant:\n';

const EXPECTED_HISTORY: { readonly [history in ToolLlamaHistory]: { readonly functions: string; readonly tools: string } } = {
  // preprocess-and-train.md §4: `Assistant: \nThought: ...\nAction: ...\nAction Input: ...`
  training: {
    functions: `Assistant: \n${GENERATION}\n`,
    tools: `Assistant: \n${GENERATION}\n`,
  },
  // quirk 12: ToolBench shows the thought only, whatever the shape stores.
  toolbench: {
    functions: 'Assistant: I need a love quote.\n',
    tools: 'Assistant: I need a love quote.\n',
  },
  // quirk 12: StableToolBench shows the content as stored (the raw generation, no leading newline).
  stabletoolbench: {
    functions: 'Assistant: I need a love quote.\n',
    tools: `Assistant: ${GENERATION}\n`,
  },
};

for (const history of TOOLLLAMA_HISTORIES) {
  test(`history '${history}' renders the assistant turn, tool results as Function and every invalid diversity message`, () => {
    const expected = EXPECTED_HISTORY[history];
    assert.equal(buildToolLlamaPrompt(FUNCTIONS_PATH, OLATO_FUNCTIONS, { history }), HEAD + expected.functions + TAIL);
    assert.equal(buildToolLlamaPrompt(TOOLS_PATH, OLATO_FUNCTIONS, { history }), HEAD + expected.tools + TAIL);
  });
}

test('training history uses the stored call name and arguments, not the text', () => {
  const renamed: ChatMessage = {
    role: 'assistant',
    content: 'Thought: Try it.\nAction: love_quote\nAction Input: {"a": 1}',
    tool_calls: [{ id: 'x', function: { name: 'invalid_hallucination_function_name', arguments: '{"a": 1}' }, type: 'function' }],
  };
  assert.equal(
    buildToolLlamaPrompt([renamed], [], { history: 'training' }),
    'Assistant: \nThought: Try it.\nAction: invalid_hallucination_function_name\nAction Input: {"a": 1}\nAssistant:\n',
  );
});

test('training history of a tools message whose content is not its generation keeps the content as the thought', () => {
  const chatgpt: ChatMessage = {
    role: 'assistant',
    content: 'Let me look.',
    tool_calls: [{ id: 'call_1', function: { name: 'f', arguments: '{}' }, type: 'function' }],
  };
  assert.equal(buildToolLlamaPrompt([chatgpt], [], { history: 'training' }), 'Assistant: \nThought: Let me look.\nAction: f\nAction Input: {}\nAssistant:\n');
});

test('training history of an assistant message without a call is a bare thought', () => {
  const message: ChatMessage = { role: 'assistant', content: 'Thinking.' };
  assert.equal(buildToolLlamaPrompt([message], [], { history: 'training' }), 'Assistant: \nThought: Thinking.\nAssistant:\n');
});

test('null content prints as Python would: None in the f-string, "" where training uses `content or ""`', () => {
  const messages: readonly ChatMessage[] = [
    { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
    { role: 'function', name: 'f', content: null },
  ];
  assert.equal(buildToolLlamaPrompt(messages, [], { history: 'toolbench' }), 'Assistant: None\nFunction: None\nAssistant:\n');
  assert.equal(buildToolLlamaPrompt(messages, [], { history: 'stabletoolbench' }), 'Assistant: None\nFunction: None\nAssistant:\n');
  assert.equal(
    buildToolLlamaPrompt(messages, [], { history: 'training' }),
    'Assistant: \nThought: \nAction: f\nAction Input: {}\nFunction: None\nAssistant:\n',
  );
});

test('a role outside the template throws llm.prompt', () => {
  assert.throws(
    () => buildToolLlamaPrompt([{ role: 'developer', content: 'x' }], [], { history: 'training' }),
    (error: unknown) => error instanceof ToolbenchError && error.code === 'llm.prompt',
  );
});
