import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLocalBackend, type LocalBackendOptions } from '../../src/env/local-env.js';
import { shapeAnswer } from '../../src/env/observation.js';
import { ResponseExamples } from '../../src/env/response-examples.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import type { ApiRef, BackendAnswer } from '../../src/env/tool-call.js';
import { fixture } from '../helpers/paths.js';

const kit = (api: string): ApiRef => ({ category: 'Customized', tool: 'local_kit', api });

function backend(overrides: Partial<LocalBackendOptions> = {}) {
  return createLocalBackend({
    toolsRoot: fixture('toolenv-local', 'tools'),
    compress: 'truncate',
    examples: new ResponseExamples(fixture('toolenv-local', 'response_examples')),
    draw: () => assert.fail('no draw expected'),
    ...overrides,
  });
}

function replyOf(answer: BackendAnswer): { error: string; response: string } {
  assert.equal(answer.kind, 'reply');
  assert.equal(answer.source, 'local');
  return answer.reply as { error: string; response: string };
}

describe('local tools (algorithms.md §5.5)', () => {
  test("the README's hello-world tool answers through the upstream reply", async () => {
    const answer = await backend().answer({ category: 'Customized', tool: 'hello_world', api: 'get_hello_world' }, '');
    assert.deepEqual(replyOf(answer), { error: '', response: 'hello world' });
    assert.deepEqual(shapeAnswer(answer, 1024), { observation: '{"error": "", "response": "hello world"}', status: TOOL_STATUS.ok, source: 'local' });
  });

  test('the function gets the arguments as one plain object', async () => {
    const reply = replyOf(await backend().answer(kit('echo_args'), '{"text": "hi", "n": 1.0, "flag": true}'));
    assert.equal(reply.response, "{'received': {'text': 'hi', 'n': 1, 'flag': True}, 'kinds': {'text': 'string', 'n': 'number', 'flag': 'boolean'}}");
  });

  test('a throwing function is a function error reply with its message', async () => {
    const reply = replyOf(await backend().answer(kit('fail_loudly'), '{}'));
    assert.equal(reply.error, 'Function executing from toolenv.tools.Customized.local_kit.api import fail_loudly error...\nthe tool broke');
    assert.equal(reply.response, '');
  });

  test('arguments that are not JSON are a tool input parse error', async () => {
    assert.deepEqual(replyOf(await backend().answer(kit('echo_args'), 'text=hi')), { error: 'Tool input parse error...\n', response: '' });
  });

  test('a missing module, a missing export, a non-function export and an unprintable result are function error replies', async () => {
    const apis = [
      { category: 'Customized', tool: 'no_such_tool', api: 'x' },
      kit('no_such_api'),
      kit('not_callable'),
      kit('returns_function'),
    ];
    for (const api of apis) {
      const reply = replyOf(await backend().answer(api, '{}'));
      assert.ok(reply.error.startsWith(`Function executing from toolenv.tools.${api.category}.${api.tool}.api import ${api.api} error...\n`), reply.error);
      assert.equal(reply.response, '');
    }
  });

  test('results are classified like RapidAPI results', async () => {
    const reply = replyOf(await backend().answer(kit('echo_args'), '{"text": "You are not subscribed to this API."}'));
    assert.equal(reply.error, 'Unsubscribed error...');
    assert.equal(shapeAnswer({ kind: 'reply', reply, source: 'local' }, 1024).status, TOOL_STATUS.unsubscribed);
  });

  test('filter compresses with the response-example schema', async () => {
    const reply = replyOf(await backend({ compress: 'filter' }).answer(kit('team_profile'), '{}'));
    assert.equal(reply.response, "{'name': 'Leeds', 'stadium': {'name': 'Elland Road'}, 'players': [{'name': 'A'}, {'name': 'B'}]}");
  });

  test('a module is imported once per tool', async () => {
    let imports = 0;
    const counting = backend({ importModule: async (url) => (imports++, import(url)) });
    await counting.answer(kit('echo_args'), '{}');
    await counting.answer(kit('team_profile'), '{}');
    assert.equal(imports, 1);
  });

  test('api.ts is used where this Node can import it, and otherwise the reply says to compile it', async () => {
    const typed = { category: 'Customized', tool: 'typed_tool', api: 'get_typed' };
    assert.deepEqual(replyOf(await backend().answer(typed, '{"name": "ada"}')), { error: '', response: 'typed ada' });
    const plainNode = backend({
      importModule: async () => {
        throw Object.assign(new TypeError('Unknown file extension ".ts"'), { code: 'ERR_UNKNOWN_FILE_EXTENSION' });
      },
    });
    assert.match(replyOf(await plainNode.answer(typed, '{}')).error, /api\.mjs/);
  });

  test('category and tool names cannot reach a module outside the tools folder', async () => {
    const imported: string[] = [];
    const watching = backend({ importModule: async (url) => (imported.push(url), import(url)) });
    for (const api of [
      { category: '..', tool: 'outside', api: 'outside' },
      { category: 'Customized', tool: '../../outside', api: 'outside' },
      { category: '..\\..', tool: 'outside', api: 'outside' },
      { category: '.', tool: '..', api: 'outside' },
    ]) {
      const reply = replyOf(await watching.answer(api, '{}'));
      assert.match(reply.error, /^Function executing /);
    }
    assert.deepEqual(imported, []);
    assert.equal((globalThis as { __toolbenchOutsideModuleImported?: boolean }).__toolbenchOutsideModuleImported, undefined);
  });
});
