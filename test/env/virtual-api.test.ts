import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isUsableRealReply } from '../../src/env/real-reply-check.js';
import { ResponseCache, type CacheLocation } from '../../src/env/response-cache.js';
import type { SimulationRequest, SimulationResult } from '../../src/env/simulator.js';
import type { ApiRef, BackendAnswer, CallOptions, ToolBackend } from '../../src/env/tool-call.js';
import { parseToolInput } from '../../src/env/tool-input.js';
import { VirtualApi, createVirtualBackend, resolveVirtualTarget, type VirtualApiOptions, type VirtualRequest } from '../../src/env/virtual-api.js';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import type { PyValue } from '../../src/util/py-value.js';
import { fixture } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-virtual-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const REQUEST: VirtualRequest = { category: 'Social', tool_name: 'quote_garden', api_name: 'Love Quote', tool_input: '{"tag": "love", "limit": 2}' };
const LOCATION: CacheLocation = { category: 'Social', toolDir: 'quote_garden_for_Social', api: 'love_quote' };
const KEY = "{'tag': 'love', 'limit': 2}";
const SIMULATION_FAILED = { error: 'Failed to generate fake response', response: '' };

let roots = 0;
/** A cache root with the tool folder of LOCATION in place. */
function cacheRoot(): string {
  const root = join(scratch, `cache-${++roots}`);
  mkdirSync(join(root, LOCATION.category, LOCATION.toolDir), { recursive: true });
  return root;
}

function cacheFile(root: string): string {
  return join(root, LOCATION.category, LOCATION.toolDir, `${LOCATION.api}.json`);
}

function readCache(root: string): PyValue | undefined {
  return existsSync(cacheFile(root)) ? pyJsonParse(readFileSync(cacheFile(root), 'utf8')) : undefined;
}

/** A real backend (the service or RapidAPI) answering from a script. */
function stubReal(script: readonly (BackendAnswer | Error)[]): ToolBackend & { calls: { api: ApiRef; args: string; options?: CallOptions }[] } {
  const calls: { api: ApiRef; args: string; options?: CallOptions }[] = [];
  return {
    calls,
    async answer(api, args, options) {
      calls.push({ api, args, options });
      const next = script[calls.length - 1] ?? assert.fail(`unexpected real call #${calls.length}`);
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

function stubSimulator(script: readonly SimulationResult[]): { simulate: (request: SimulationRequest, signal?: AbortSignal) => Promise<SimulationResult>; requests: SimulationRequest[] } {
  const requests: SimulationRequest[] = [];
  return {
    requests,
    async simulate(request) {
      requests.push(request);
      return script[requests.length - 1] ?? assert.fail(`unexpected simulation #${requests.length}`);
    },
  };
}

function virtualApi(options: Partial<VirtualApiOptions> & { root?: string }): { api: VirtualApi; warnings: string[] } {
  const warnings: string[] = [];
  const { root, ...rest } = options;
  const api = new VirtualApi({
    cache: root === undefined ? undefined : new ResponseCache(root, { warn: (message) => void warnings.push(message) }),
    save: true,
    warn: (message) => void warnings.push(message),
    ...rest,
  });
  return { api, warnings };
}

const realReply = (reply: PyValue): BackendAnswer => ({ kind: 'reply', reply, source: 'service' });

describe('resolveVirtualTarget', () => {
  test('names the cache file <std category>/<tool>_for_<std category>/<change_name(standardize(api))>', () => {
    assert.deepEqual(resolveVirtualTarget({ category: 'Social', tool_name: 'quote_garden', api_name: 'Love Quote' }), {
      location: { category: 'Social', toolDir: 'quote_garden_for_Social', api: 'love_quote' },
      api: { category: 'Social', tool: 'quote_garden', api: 'love_quote' },
      toolFile: 'quote_garden',
    });
  });

  test('the category is standardize_category()d', () => {
    const target = resolveVirtualTarget({ category: 'News, Media', tool_name: 'daily_news', api_name: 'latest' });
    assert.equal(target.location.category, 'News_Media');
    assert.equal(target.location.toolDir, 'daily_news_for_News_Media');
    assert.equal(resolveVirtualTarget({ category: 'Business/Software', tool_name: 't', api_name: 'a' }).location.category, 'Business_Software');
  });

  test('API names that are Python words get the is_ prefix; names starting with a digit get get_', () => {
    assert.equal(resolveVirtualTarget({ category: 'Data', tool_name: 't', api_name: 'id' }).location.api, 'is_id');
    assert.equal(resolveVirtualTarget({ category: 'Data', tool_name: 't', api_name: 'From' }).location.api, 'is_from');
    assert.equal(resolveVirtualTarget({ category: 'Data', tool_name: 't', api_name: '3D Models' }).location.api, 'get_3d_models');
    assert.equal(resolveVirtualTarget({ category: 'Data', tool_name: 't', api_name: 'Get /quotes/:id' }).location.api, 'get_quotes_id');
  });

  test('an API name that is a full function name is cut at the first _for_<tool_name>', () => {
    const target = resolveVirtualTarget({ category: 'Social', tool_name: 'quote_garden', api_name: 'love_quote_for_quote_garden' });
    assert.equal(target.location.api, 'love_quote');
    assert.equal(target.api.api, 'love_quote');
    assert.equal(resolveVirtualTarget({ category: 'Social', tool_name: 'q', api_name: 'a_for_q_for_q' }).location.api, 'a');
  });

  test('the cut uses the raw tool name, so a tool name that standardize() changes cuts nothing', () => {
    assert.equal(resolveVirtualTarget({ category: 'Social', tool_name: 'Quote Garden', api_name: 'love_quote_for_quote_garden' }).location.api, 'love_quote_for_quote_garden');
    // the API name is lower-cased by standardize(), the raw `_for_quote_garden_for_Social` is not
    const suffixed = { category: 'Social', tool_name: 'quote_garden_for_Social', api_name: 'love_quote_for_quote_garden_for_Social' };
    assert.equal(resolveVirtualTarget(suffixed).location.api, 'love_quote_for_quote_garden_for_social');
  });

  test('the tool folder is standardize(tool_name)_for_<category>', () => {
    const target = resolveVirtualTarget({ category: 'Social', tool_name: 'Quote Garden', api_name: 'Love Quote' });
    assert.equal(target.location.toolDir, 'quote_garden_for_Social');
    assert.equal(target.toolFile, 'quote_garden');
    assert.equal(target.api.tool, 'Quote Garden');
  });

  test('a tool name already ending in _for_<std category> is the tool folder as is; the real call and the documentation use the part before _for_', () => {
    const target = resolveVirtualTarget({ category: 'Social', tool_name: 'quote_garden_for_Social', api_name: 'Love Quote' });
    assert.equal(target.location.toolDir, 'quote_garden_for_Social');
    assert.equal(target.location.api, 'love_quote');
    assert.equal(target.api.tool, 'quote_garden');
    assert.equal(target.toolFile, 'quote_garden');
  });

  test('a _for_ suffix with another category (or case) is not the folder suffix', () => {
    assert.equal(resolveVirtualTarget({ category: 'Social', tool_name: 'quote_garden_for_social', api_name: 'a' }).location.toolDir, 'quote_garden_for_social_for_Social');
    assert.equal(resolveVirtualTarget({ category: 'Social', tool_name: 'quote_garden_for_Data', api_name: 'a' }).location.toolDir, 'quote_garden_for_data_for_Social');
  });

  const unsafe: readonly (readonly [string, Pick<VirtualRequest, 'category' | 'tool_name' | 'api_name'>])[] = [
    ['category ..', { category: '..', tool_name: 't', api_name: 'a' }],
    ['category .', { category: '.', tool_name: 't', api_name: 'a' }],
    ['empty category', { category: '', tool_name: 't', api_name: 'a' }],
    ['category with a backslash', { category: 'a\\b', tool_name: 't', api_name: 'a' }],
    ['category with NUL', { category: 'a\0b', tool_name: 't', api_name: 'a' }],
    ['tool name that keeps a slash through its _for_ suffix', { category: 'Social', tool_name: '../x_for_Social', api_name: 'a' }],
  ];
  for (const [name, request] of unsafe) {
    test(`an unsafe name (${name}) is refused with request.unsafe-name`, () => {
      assert.throws(
        () => resolveVirtualTarget(request),
        (error) => error instanceof ToolbenchError && error.code === 'request.unsafe-name' && error.exitCode === 2,
      );
    });
  }

  test('handle() refuses an unsafe name before touching the cache', async () => {
    const root = join(scratch, 'never-created');
    const { api } = virtualApi({ root, simulator: stubSimulator([]) });
    await assert.rejects(api.handle({ ...REQUEST, category: '..' }), (error) => error instanceof ToolbenchError && error.code === 'request.unsafe-name');
    assert.equal(existsSync(root), false);
  });
});

describe('parseToolInput', () => {
  test('"" is {}, JSON text is parsed, an object is used as is, anything else is a parse error', () => {
    assert.deepEqual(parseToolInput(''), {});
    assert.deepEqual(parseToolInput('{"a": [1]}'), { a: [1] });
    assert.deepEqual(parseToolInput({ a: 1 }), { a: 1 });
    assert.equal(parseToolInput('{"a": '), undefined);
    assert.equal(parseToolInput('not json'), undefined);
    assert.equal(parseToolInput(['a'] as PyValue), undefined);
  });
});

describe('VirtualApi.handle', () => {
  test('a cache hit returns the stored reply unchanged, calling neither the real backend nor the simulator', async () => {
    const root = cacheRoot();
    writeFileSync(cacheFile(root), `{"${KEY}": {"error": "", "response": "cached!", "extra": 1}}`);
    const real = stubReal([]);
    const simulator = stubSimulator([]);
    const { api } = virtualApi({ root, real, simulator });
    assert.deepEqual(await api.handle(REQUEST), { reply: { error: '', response: 'cached!', extra: 1 }, source: 'cache', type: 'cached_real_response' });
    assert.equal(real.calls.length, 0);
    assert.equal(simulator.requests.length, 0);
  });

  test('the cache key keeps the order of the model arguments', async () => {
    const root = cacheRoot();
    writeFileSync(cacheFile(root), `{"{'limit': 2, 'tag': 'love'}": "swapped"}`);
    const { api } = virtualApi({ root, simulator: stubSimulator([{ ok: true, reply: 'simulated', attempts: 1 }]) });
    assert.equal((await api.handle({ ...REQUEST, tool_input: '{"limit": 2, "tag": "love"}' })).reply, 'swapped');
    assert.equal((await api.handle(REQUEST)).source, 'simulated');
  });

  test('on a miss a usable real reply is returned, stored, and the simulator is not asked', async () => {
    const root = cacheRoot();
    const reply = { error: '', response: "{'quote': 'All you need is love'}" };
    const real = stubReal([realReply(reply)]);
    const simulator = stubSimulator([]);
    const { api } = virtualApi({ root, real, simulator });
    const signal = new AbortController().signal;
    assert.deepEqual(await api.handle(REQUEST, { signal }), { reply, source: 'real', type: 'real_response' });
    assert.deepEqual(readCache(root), { [KEY]: reply });
    assert.equal(simulator.requests.length, 0);
    assert.deepEqual(real.calls, [{ api: { category: 'Social', tool: 'quote_garden', api: 'love_quote' }, args: REQUEST.tool_input, options: { signal } }]);
  });

  test('the real backend gets the arguments as JSON text when the request carried an object', async () => {
    const real = stubReal([realReply({ error: '', response: 'ok' })]);
    const { api } = virtualApi({ root: cacheRoot(), real });
    await api.handle({ ...REQUEST, tool_input: { tag: 'love', limit: 2 } });
    assert.equal(real.calls[0]?.args, '{"tag": "love", "limit": 2}');
  });

  test('a real reply rejected by check_result falls through to the simulator, whose reply is stored', async () => {
    const root = cacheRoot();
    const real = stubReal([realReply({ error: '', response: 'Rate limit exceeded' })]);
    const simulated = { error: '', response: "{'quote': 'simulated love'}" };
    const simulator = stubSimulator([{ ok: true, reply: simulated, attempts: 1 }]);
    const { api } = virtualApi({ root, real, simulator });
    assert.deepEqual(await api.handle(REQUEST), { reply: simulated, source: 'simulated', type: 'fake_response' });
    assert.deepEqual(readCache(root), { [KEY]: simulated });
    assert.equal(real.calls.length, 1);
    assert.equal(simulator.requests.length, 1);
  });

  test('a real backend failure (HTTP status, timeout) or a typed error also falls through to the simulator', async () => {
    const real = stubReal([
      { kind: 'failure', failure: { kind: 'http-status', status: 502 }, source: 'service' },
      new ToolbenchError('env.unreachable', 1, 'down'),
    ]);
    const simulator = stubSimulator([
      { ok: true, reply: 'first', attempts: 1 },
      { ok: true, reply: 'second', attempts: 1 },
    ]);
    const root = cacheRoot();
    const { api, warnings } = virtualApi({ root, real, simulator });
    assert.equal((await api.handle(REQUEST)).source, 'simulated');
    assert.equal((await api.handle({ ...REQUEST, tool_input: '{}' })).source, 'simulated');
    assert.equal(warnings.length, 1);
    assert.deepEqual(readCache(root), { [KEY]: 'first', '{}': 'second' });
  });

  test('an unexpected error of the real backend (a bug) is not swallowed', async () => {
    const bug = new TypeError('bug');
    const { api } = virtualApi({ root: cacheRoot(), real: stubReal([bug]), simulator: stubSimulator([]) });
    await assert.rejects(api.handle(REQUEST), (error) => error === bug);
  });

  test('the simulator gets the documentation of the tool, the first cached examples and the parsed input', async () => {
    const root = cacheRoot();
    writeFileSync(cacheFile(root), `{"{'tag': 'x'}": {"error": "", "response": "x"}, "{}": {"error": "", "response": "any"}}`);
    const simulator = stubSimulator([{ ok: true, reply: { error: '', response: 'new' }, attempts: 1 }]);
    const tools = ToolEnvironment.open(fixture('toolenv-2023', 'tools'));
    const { api } = virtualApi({ root, simulator, tools });
    await api.handle(REQUEST);
    assert.deepEqual(simulator.requests, [
      {
        apiDoc: {
          tool_description: 'Quotes for every occasion.\nLove, success and motivation quotes, picked at random.',
          api_info: [{ name: 'Love Quote', description: 'Returns a random love quote.' }],
        },
        examples: [
          ["{'tag': 'x'}", { error: '', response: 'x' }],
          ['{}', { error: '', response: 'any' }],
        ],
        toolInput: { tag: 'love', limit: 2 },
      },
    ]);
  });

  test('without tools or a tool file the simulator sees the empty documentation', async () => {
    const simulator = stubSimulator([
      { ok: true, reply: 'a', attempts: 1 },
      { ok: true, reply: 'b', attempts: 1 },
    ]);
    const tools = ToolEnvironment.open(fixture('toolenv-2023', 'tools'));
    await virtualApi({ simulator }).api.handle(REQUEST);
    await virtualApi({ simulator, tools }).api.handle({ ...REQUEST, tool_name: 'no_such_tool' });
    assert.deepEqual(
      simulator.requests.map((request) => request.apiDoc),
      [
        { tool_description: '', api_info: '' },
        { tool_description: '', api_info: '' },
      ],
    );
    assert.deepEqual(simulator.requests[0]?.examples, []);
  });

  test('a failed simulation replies "Failed to generate fake response", warns, and caches nothing', async () => {
    const root = cacheRoot();
    const { api, warnings } = virtualApi({ root, simulator: stubSimulator([{ ok: false, reason: 'no JSON', attempts: 3 }]) });
    assert.deepEqual(await api.handle(REQUEST), { reply: SIMULATION_FAILED, source: 'environment', type: 'simulation_failed' });
    await api.cache?.settled();
    assert.equal(readCache(root), undefined);
    assert.equal(warnings.length, 1);
  });

  test('with no simulator a miss gets the same failure reply, with one warning for the whole run', async () => {
    const root = cacheRoot();
    const { api, warnings } = virtualApi({ root });
    assert.deepEqual(await api.handle(REQUEST), { reply: SIMULATION_FAILED, source: 'environment', type: 'no_simulator' });
    assert.deepEqual(await api.handle({ ...REQUEST, api_name: 'Quote by ID' }), { reply: SIMULATION_FAILED, source: 'environment', type: 'no_simulator' });
    assert.equal(warnings.length, 1);
    assert.equal(readCache(root), undefined);
  });

  test('with save off, neither real nor simulated replies are written', async () => {
    const root = cacheRoot();
    const real = stubReal([realReply({ error: '', response: 'real one' }), realReply({ error: 'Unauthorized error...', response: '' })]);
    const simulator = stubSimulator([{ ok: true, reply: 'simulated one', attempts: 1 }]);
    const { api } = virtualApi({ root, real, simulator, save: false });
    assert.equal((await api.handle(REQUEST)).source, 'real');
    assert.equal((await api.handle({ ...REQUEST, tool_input: '{}' })).source, 'simulated');
    await api.cache?.settled();
    assert.equal(readCache(root), undefined);
  });

  test('without a cache every miss goes to the real backend and the simulator', async () => {
    const simulator = stubSimulator([{ ok: true, reply: 'simulated', attempts: 1 }]);
    assert.deepEqual(await virtualApi({ simulator }).api.handle(REQUEST), { reply: 'simulated', source: 'simulated', type: 'fake_response' });
  });

  test('chat_with_user is answered by the environment itself', async () => {
    const root = cacheRoot();
    const real = stubReal([]);
    const simulator = stubSimulator([]);
    const { api } = virtualApi({ root, real, simulator });
    assert.deepEqual(await api.handle({ ...REQUEST, api_name: 'chat_with_user', tool_input: 'not even JSON' }), {
      reply: { error: '', response: 'Chat with user.' },
      source: 'environment',
      type: 'chat_with_user',
    });
    assert.deepEqual(await api.handle({ ...REQUEST, api_name: 'chat_with_user_for_quote_garden' }), {
      reply: { error: '', response: 'Chat with user.' },
      source: 'environment',
      type: 'chat_with_user',
    });
    assert.equal(real.calls.length + simulator.requests.length, 0);
  });

  test('tool input that is not JSON gets "Tool input parse error...\\n" and nothing else happens', async () => {
    const root = cacheRoot();
    const real = stubReal([]);
    const simulator = stubSimulator([]);
    const { api } = virtualApi({ root, real, simulator });
    assert.deepEqual(await api.handle({ ...REQUEST, tool_input: '{"tag": love}' }), {
      reply: { error: 'Tool input parse error...\n', response: '' },
      source: 'environment',
      type: 'tool_input_parse_error',
    });
    assert.equal(real.calls.length + simulator.requests.length, 0);
    assert.equal(readCache(root), undefined);
  });

  test('an empty tool input is the key {} and the simulator gets {}', async () => {
    const root = cacheRoot();
    const simulator = stubSimulator([{ ok: true, reply: { error: '', response: 'no args' }, attempts: 1 }]);
    const { api } = virtualApi({ root, simulator });
    assert.equal((await api.handle({ ...REQUEST, tool_input: '' })).source, 'simulated');
    assert.deepEqual(simulator.requests[0]?.toolInput, {});
    assert.deepEqual(readCache(root), { '{}': { error: '', response: 'no args' } });
    assert.deepEqual(await api.handle({ ...REQUEST, tool_input: '{}' }), { reply: { error: '', response: 'no args' }, source: 'cache', type: 'cached_real_response' });
  });

  test(
    'a miss is stored into a cache folder that does not exist yet (a new --cache)',
    async () => {
      const root = join(scratch, 'new-cache');
      const { api } = virtualApi({ root, simulator: stubSimulator([{ ok: true, reply: 'fresh', attempts: 1 }]) });
      assert.deepEqual(await api.handle(REQUEST), { reply: 'fresh', source: 'simulated', type: 'fake_response' });
      assert.deepEqual(readCache(root), { [KEY]: 'fresh' });
    },
  );

  test('two misses in a row for one API are both stored', async () => {
    const root = cacheRoot();
    const simulator = stubSimulator([
      { ok: true, reply: 'one', attempts: 1 },
      { ok: true, reply: 'two', attempts: 1 },
    ]);
    const { api } = virtualApi({ root, simulator });
    await api.handle({ ...REQUEST, tool_input: '{"n": 1}' });
    const second = api.handle({ ...REQUEST, tool_input: '{"n": 2}' });
    const outcome = await settledWithin(second, 2_000);
    assert.deepEqual(outcome, { reply: 'two', source: 'simulated', type: 'fake_response' });
    assert.deepEqual(readCache(root), { "{'n': 1}": 'one', "{'n': 2}": 'two' });
  });

  test('a simulated reply that was stored is a cache hit next time', async () => {
    const root = cacheRoot();
    const simulator = stubSimulator([{ ok: true, reply: { error: '', response: 'once' }, attempts: 1 }]);
    const { api } = virtualApi({ root, simulator });
    await api.handle(REQUEST);
    assert.equal((await api.handle(REQUEST)).source, 'cache');
    assert.equal((await virtualApi({ root }).api.handle(REQUEST)).source, 'cache');
  });
});

describe('createVirtualBackend', () => {
  test('answers an ApiRef call as a reply with the outcome source', async () => {
    const root = cacheRoot();
    writeFileSync(cacheFile(root), `{"{}": {"error": "", "response": "hit"}}`);
    const backend = createVirtualBackend(virtualApi({ root }).api);
    assert.deepEqual(await backend.answer({ category: 'Social', tool: 'quote_garden', api: 'love_quote' }, ''), {
      kind: 'reply',
      reply: { error: '', response: 'hit' },
      source: 'cache',
    });
    await backend.close?.();
  });
});

describe('isUsableRealReply (check_result)', () => {
  const usable = (response: PyValue): boolean => isUsableRealReply({ error: '', response });

  test('a normal reply is usable, whether its response is text or structured', () => {
    assert.equal(usable("{'quote': 'All you need is love'}"), true);
    assert.equal(usable({ quote: 'x', count: 2 }), true);
    assert.equal(usable(null), true);
    assert.equal(usable(0), true);
  });

  test('a non-empty error, a missing error or a missing response is rejected', () => {
    assert.equal(isUsableRealReply({ error: 'Message error...', response: 'x' }), false);
    assert.equal(isUsableRealReply({ error: { any: 1 }, response: 'x' }), false);
    assert.equal(isUsableRealReply({ response: 'x' }), false);
    assert.equal(isUsableRealReply({ error: '' }), false);
    assert.equal(isUsableRealReply('just text'), false);
    assert.equal(isUsableRealReply(['x']), false);
  });

  test('an error that is falsy in Python (null, 0, false, empty list or dict) is not an error', () => {
    for (const error of [null, 0, false, [], {}] as PyValue[]) assert.equal(isUsableRealReply({ error, response: 'x' }), true, JSON.stringify(error));
  });

  test('an empty response text is rejected', () => {
    assert.equal(usable(''), false);
  });

  const serverTrouble = ['rate limit', 'time out', 'timed out', 'does not exist', '404', '504', '500', 'internal error'];
  const accessTrouble = [
    'authoriz',
    'authenticat',
    'unauthorized',
    'blocked user',
    'unsubscribe',
    'blocked',
    '401',
    '403',
    'credential',
    'unauthenticated',
    'disabled for your subscription',
    'invalid consumer key',
  ];
  const inputTrouble = ['parameter', 'parse', 'is not defined'];
  for (const [list, words] of [['server trouble', serverTrouble], ['access trouble', accessTrouble], ['input trouble', inputTrouble]] as const) {
    test(`a response mentioning ${list} is rejected, in any case: ${words.join(', ')}`, () => {
      for (const word of words) {
        assert.equal(usable(`Oops: ${word} here`), false, word);
        assert.equal(usable(`Oops: ${word.toUpperCase()} here`), false, word.toUpperCase());
      }
    });
  }

  test('the words are also found in Python str() of a structured response', () => {
    assert.equal(usable({ message: 'You are not Authorized' }), false);
    assert.equal(usable({ code: 404 }), false);
    assert.equal(usable(['Internal Error']), false);
  });

  test('"Service Not Found" and "ACCESS_DENIED" are matched with their case only', () => {
    assert.equal(usable('Service Not Found'), false);
    assert.equal(usable('service not found'), true);
    assert.equal(usable('ACCESS_DENIED'), false);
    assert.equal(usable('access_denied'), true);
  });

  test('status_code=50x and status_code=429 are rejected', () => {
    assert.equal(usable('request invalid, data error. status_code=502'), false);
    assert.equal(usable('status_code=503'), false);
    assert.equal(usable('status_code=429'), false);
    assert.equal(usable('status_code=200'), true);
  });

  test('"got an unexpected keyword argument" is accepted whatever else the text says', () => {
    assert.equal(usable("love_quote() got an unexpected keyword argument 'limit' (parameter error, rate limit, 401)"), true);
    assert.equal(usable('Got An Unexpected Keyword Argument'), true);
  });

  test("upstream's capitalised \"API doesn't exists\" test never matches (quirk kept)", () => {
    assert.equal(usable("API doesn't exists"), true);
  });
});

/** The promise's value, or `'still pending'` when it has not settled in time (a lost write never settles). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'still pending'>((resolve) => (timer = setTimeout(() => resolve('still pending'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
