import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { shapeAnswer } from '../../src/env/observation.js';
import { createRapidApiBackend, type RapidApiBackendOptions } from '../../src/env/rapidapi-env.js';
import { ResponseExamples } from '../../src/env/response-examples.js';
import { TOOL_STATUS } from '../../src/env/status.js';
import type { ApiRef, BackendAnswer } from '../../src/env/tool-call.js';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import { startFakeRapidApi, type FakeRapidApi } from '../helpers/fake-rapidapi.js';
import { fixture } from '../helpers/paths.js';

const KEY = 'test-key-0123456789';
const match = (api: string): ApiRef => ({ category: 'Sports', tool: 'match_center', api });

let server: FakeRapidApi;
before(async () => {
  server = await startFakeRapidApi();
});
after(() => server.close());
afterEach(() => void server.requests.splice(0));

function backend(overrides: Partial<RapidApiBackendOptions> = {}) {
  return createRapidApiBackend({
    tools: ToolEnvironment.open(fixture('toolenv-local')),
    key: KEY,
    timeoutMs: 2000,
    compress: 'truncate',
    examples: new ResponseExamples(fixture('toolenv-local', 'response_examples')),
    draw: () => assert.fail('no draw expected'),
    baseUrlOverride: server.origin,
    ...overrides,
  });
}

function replyOf(answer: BackendAnswer): { error: string; response: string } {
  assert.equal(answer.kind, 'reply');
  assert.equal(answer.source, 'rapidapi');
  return answer.reply as { error: string; response: string };
}

describe('RapidAPI backend: requests', () => {
  test('path parameters fill the url placeholders, URL-encoded, and are not repeated in the query', async () => {
    server.route('/match/a%20b%2F7/details', { body: '{"id": 7}' });
    replyOf(await backend().answer(match('match_details'), '{"matchid": "a b/7", "lang": "fr"}'));
    const [request] = server.requests;
    assert.equal(request?.path, '/match/a%20b%2F7/details');
    assert.deepEqual([...(request?.query ?? [])], [['lang', 'fr']]);
  });

  test('query parameters use their original names; optional ones default to the JSON default and are sent only when truthy', async () => {
    server.route('/teams/search', { body: '[]' });
    await backend().answer(match('search_teams'), '{"query": "leeds united", "is_from": 0, "include_youth": true}');
    assert.equal(server.requests[0]?.target, '/teams/search?query=leeds+united&Page+Size=10&include_youth=True');
    await backend().answer(match('search_teams'), '{"query": "x", "page_size": [1, 2], "is_from": 1.0}');
    assert.equal(server.requests[1]?.target, '/teams/search?query=x&from=1.0&Page+Size=1&Page+Size=2');
  });

  test('the key and host headers are sent; the host comes from the tool JSON, else from the url', async () => {
    server.route('/status', { body: '{}' });
    server.route('/today', { body: '{}' });
    await backend().answer(match('status'), '');
    await backend().answer({ category: 'Sports', tool: 'scores_lite', api: 'today' }, '{}');
    assert.equal(server.requests[0]?.headers['x-rapidapi-key'], KEY);
    assert.equal(server.requests[0]?.headers['x-rapidapi-host'], 'match-center.p.rapidapi.com');
    assert.equal(server.requests[1]?.headers['x-rapidapi-host'], 'scores-lite.p.rapidapi.com');
  });

  test('a method other than GET sends the parameters as a JSON body', async () => {
    server.route('/notes', { body: '{"ok": true}' });
    await backend().answer(match('create_note'), '{"text": "é"}');
    const [request] = server.requests;
    assert.equal(request?.method, 'POST');
    assert.equal(request?.target, '/notes');
    assert.deepEqual(JSON.parse(request?.body ?? ''), { text: 'é' });
  });
});

describe('RapidAPI backend: results', () => {
  test('a JSON body is the result, shown as Python prints it', async () => {
    server.route('/status', { body: '{"up": true, "load": 1.0, "note": null}' });
    assert.deepEqual(replyOf(await backend().answer(match('status'), '{}')), { error: '', response: "{'up': True, 'load': 1.0, 'note': None}" });
  });

  test('redirects are followed', async () => {
    server.route('/status', { status: 302, headers: { location: '/today' }, body: '' });
    server.route('/today', { body: '{"moved": 1}' });
    assert.deepEqual(replyOf(await backend().answer(match('status'), '{}')), { error: '', response: "{'moved': 1}" });
    assert.equal(server.requests[1]?.headers['x-rapidapi-key'], KEY);
  });

  test('a text body, and a malformed JSON body, are kept as text', async () => {
    server.route('/status', { body: 'all good', headers: { 'content-type': 'text/plain' } });
    assert.deepEqual(replyOf(await backend().answer(match('status'), '{}')), { error: '', response: 'all good' });
    server.route('/status', { body: '{"up": tru' });
    assert.deepEqual(replyOf(await backend().answer(match('status'), '{}')), { error: '', response: '{"up": tru' });
  });

  test('a 5xx reply is a result like any other: its body is classified', async () => {
    server.route('/status', { status: 503, body: '{"message": "Service Unavailable"}' });
    const answer = await backend().answer(match('status'), '{}');
    assert.deepEqual(replyOf(answer), { error: '', response: "{'message': 'Service Unavailable'}" });
    server.route('/status', { status: 500, body: '{"messages": "The API is unreachable, please contact the API provider", "info": "Your Client (working) ---> Gateway (working) ---> API (not working)"}' });
    assert.equal(shapeAnswer(await backend().answer(match('status'), '{}'), 1024).status, TOOL_STATUS.apiNotWorking);
  });

  test('RapidAPI error pages map to the upstream statuses', async () => {
    const cases: [string, number][] = [
      ['{"message": "You are not subscribed to this API."}', TOOL_STATUS.unsubscribed],
      ['{"message": "Invalid API key. Go to https://docs.rapidapi.com/docs/keys for more info.", "error": "Unauthorized"}', TOOL_STATUS.unauthorized],
      ['{"message": "Too many requests"}', TOOL_STATUS.tooManyRequests],
      ['{"error": "match not found"}', TOOL_STATUS.messageError],
    ];
    for (const [body, status] of cases) {
      server.route('/status', { status: 429, body });
      assert.equal(shapeAnswer(await backend().answer(match('status'), '{}'), 1024).status, status, body);
    }
  });

  test('filter keeps only the keys of the response-example schema', async () => {
    server.route('/team/leeds', {
      body: '{"name": "Leeds", "founded": 1919, "stadium": {"name": "Elland Road", "capacity": 37890, "pitch": "grass"}, "players": [{"name": "A", "number": 1, "salary": 10}]}',
    });
    const reply = replyOf(await backend({ compress: 'filter' }).answer(match('team_profile'), '{"team": "leeds"}'));
    assert.equal(reply.response, "{'name': 'Leeds', 'stadium': {'name': 'Elland Road', 'capacity': 37890}, 'players': [{'name': 'A', 'number': 1}]}");
  });

  test('random filters when the draw for this call is above 0.5', async () => {
    server.route('/team/leeds', { body: '{"name": "Leeds", "founded": 1919}' });
    const draws: [ApiRef, string][] = [];
    const random = (value: number) => backend({ compress: 'random', draw: (api, args) => (draws.push([api, args]), value) });
    assert.equal(replyOf(await random(0.9).answer(match('team_profile'), '{"team": "leeds"}')).response, "{'name': 'Leeds'}");
    assert.equal(replyOf(await random(0.1).answer(match('team_profile'), '{"team": "leeds"}')).response, "{'name': 'Leeds', 'founded': 1919}");
    assert.deepEqual(draws[0], [match('team_profile'), '{"team": "leeds"}']);
  });
});

describe('RapidAPI backend: failures', () => {
  test('a request past its deadline is a timeout failure (status 5)', async () => {
    server.route('/status', { body: '{}', delayMs: 1000 });
    const answer = await backend({ timeoutMs: 100 }).answer(match('status'), '{}');
    assert.deepEqual(answer, { kind: 'failure', failure: { kind: 'timeout' }, source: 'rapidapi' });
    assert.equal(shapeAnswer(answer, 1024).status, TOOL_STATUS.timeout);
  });

  test('a connection error is a function error reply that does not show the key', async () => {
    const closed = await startFakeRapidApi();
    await closed.close();
    const reply = replyOf(await backend({ baseUrlOverride: closed.origin }).answer(match('status'), '{}'));
    assert.match(reply.error, /^Function executing from toolenv\.tools\.Sports\.match_center\.api import status error\.\.\.\n/);
    assert.equal(reply.response, '');
    assert.ok(!reply.error.includes(KEY));
  });

  test('the caller aborting the call rejects it', async () => {
    server.route('/status', { body: '{}', delayMs: 1000 });
    const controller = new AbortController();
    const pending = backend().answer(match('status'), '{}', { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('stop')), 50);
    await assert.rejects(pending, /stop/);
  });

  test('arguments that are not JSON are a tool input parse error, and nothing is sent', async () => {
    const reply = replyOf(await backend().answer(match('status'), '{"a": '));
    assert.deepEqual(reply, { error: 'Tool input parse error...\n', response: '' });
    assert.equal(server.requests.length, 0);
  });

  test('an unknown argument, a missing required one or the key argument is a Python TypeError reply, and nothing is sent', async () => {
    const unknown = replyOf(await backend().answer(match('team_profile'), '{"team": "leeds", "abdc": 11123}'));
    assert.equal(unknown.error, "Function executing from toolenv.tools.Sports.match_center.api import team_profile error...\nteam_profile() got an unexpected keyword argument 'abdc'");
    const missing = replyOf(await backend().answer(match('team_profile'), '{}'));
    assert.match(missing.error, /team_profile\(\) missing 1 required positional argument: 'team'$/);
    const key = replyOf(await backend().answer(match('team_profile'), '{"team": "x", "toolbench_rapidapi_key": "mine"}'));
    assert.match(key.error, /toolbench_rapidapi_key/);
    assert.equal(server.requests.length, 0);
  });

  test('an unknown tool or API is an import error reply', async () => {
    for (const api of [{ category: 'Sports', tool: 'no_such_tool', api: 'x' }, match('no_such_api')]) {
      const reply = replyOf(await backend().answer(api, '{}'));
      assert.match(reply.error, /^Function executing from toolenv\.tools\./);
      assert.equal(reply.response, '');
    }
  });

  test('category and tool names with path separators or `..` never reach outside the tools folder', async () => {
    // join(<tools>/Customized, '..', 'Sports/match_center.json') would be a real tool file.
    const inside = ToolEnvironment.open(fixture('toolenv-local', 'tools', 'Customized'));
    for (const api of [
      { category: '..', tool: 'match_center', api: 'status' },
      { category: 'Sports/..', tool: 'Sports/match_center', api: 'status' },
      { category: 'Sports', tool: '../Sports/match_center', api: 'status' },
    ]) {
      const reply = replyOf(await backend({ tools: inside }).answer(api, '{}'));
      assert.match(reply.error, /^Function executing /);
    }
    assert.equal(server.requests.length, 0);
  });
});
