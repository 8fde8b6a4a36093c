/**
 * The `/stream` events a search produces (formats.md §14, algorithms.md §13): order, block ids,
 * depth // 3, and the step ends after each subtree.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StreamEvents, TOOL_NOT_FOUND, type StreamEvent } from '../../src/serve/stream-events.js';
import { answerArgs, call, finish, fn, giveUp, makeTask, rank, search } from '../search/scripted.js';

async function streamOf(method: string, script: Parameters<typeof search>[1], options: Parameters<typeof search>[2] = {}): Promise<{ events: StreamEvent[]; last: StreamEvent }> {
  const run = await search(method, script, options);
  const events: StreamEvent[] = [];
  const stream = new StreamEvents((event) => events.push(event), method.startsWith('DFS'));
  stream.retrievalStart();
  stream.retrievalEnd(run.task.functions);
  stream.requestStart('What is the answer?', method);
  for (const event of run.events) stream.search(event);
  return { events, last: stream.requestEnd(run.result) };
}

const brief = (events: readonly StreamEvent[]): string[] => events.map((event) => `${event.method_name} ${event.block_id}${'depth' in event ? ` d${String(event.depth)}` : ''}`);

describe('/stream events', () => {
  test('DFSDT: a call, then an answer: each step opens with chain/llm start and closes after its subtree', async () => {
    const { events, last } = await streamOf('DFS_woFilter_w2', [call(fn('alpha'), '{"q": 1}', 'Let me look.'), finish('42')]);
    assert.deepEqual(brief(events), [
      'on_tool_retrieval_start recommendation-1',
      'on_tool_retrieval_end recommendation-1',
      'on_request_start start',
      'on_chain_start llm-1 d0',
      'on_llm_start llm-1 d0',
      'on_llm_end llm-1 d0',
      'on_agent_action tool-1 d0',
      'on_tool_start tool-1 d0',
      'on_tool_end tool-1 d0',
      // the second step starts from the Action Input at depth 3: depth 3 // 3 = 1
      'on_chain_start llm-2 d1',
      'on_llm_start llm-2 d1',
      'on_llm_end llm-2 d1',
      'on_agent_action tool-2 d1',
      'on_tool_start tool-2 d1',
      'on_tool_end tool-2 d1',
      'on_chain_end llm-2 d1',
      'on_agent_end tool-2 d1',
      'on_chain_end llm-1 d0',
      'on_agent_end tool-1 d0',
    ]);
    const byName = (name: string) => events.find((event) => event.method_name === name) as StreamEvent;
    assert.equal(byName('on_request_start').user_input, 'What is the answer?');
    assert.equal(byName('on_request_start').method, 'DFS_woFilter_w2');
    assert.deepEqual((byName('on_tool_retrieval_end').recommendations as { name: string }[]).map((f) => f.name), [fn('alpha'), fn('beta'), fn('gamma'), 'Finish']);
    const toolStart = byName('on_tool_start');
    assert.equal(toolStart.tool_name, fn('alpha'));
    assert.equal(toolStart.tool_input, '{"q": 1}');
    assert.equal((toolStart.tool_description as { name: string }).name, fn('alpha'));
    assert.equal(byName('on_agent_action').action, fn('alpha'));
    assert.equal(byName('on_tool_end').status, 0);
    assert.equal((byName('on_llm_end').response as { content: string }).content, 'Let me look.');
    const chainStart = byName('on_chain_start');
    assert.deepEqual((chainStart.messages as { role: string }[]).map((message) => message.role), ['system', 'user']);
    assert.deepEqual(last, { method_name: 'on_request_end', block_id: 'end', output: answerArgs('42'), chain: (last.chain as unknown[]) });
    const chain = last.chain as { role: string }[];
    assert.deepEqual(chain.map((message) => message.role), ['system', 'user', 'assistant', 'function', 'assistant', 'function']);
  });

  test('a give-up and a second expansion: the first step closes before the next opens; an unknown name is "not found"', async () => {
    const { events, last } = await streamOf('DFS_woFilter_w2', [call('no_such_function', '{}'), giveUp(), finish('ok')], { maxDepth: 12 });
    const names = brief(events).filter((line) => /chain_(start|end)/.test(line));
    // no thought text: the call's Action Input is at depth 2, and 2 // 3 = 0
    assert.deepEqual(names, ['on_chain_start llm-1 d0', 'on_chain_start llm-2 d0', 'on_chain_end llm-2 d0', 'on_chain_end llm-1 d0', 'on_chain_start llm-3 d0', 'on_chain_end llm-3 d0']);
    const toolStart = events.find((event) => event.method_name === 'on_tool_start' && event.tool_name === 'no_such_function') as StreamEvent;
    assert.equal(toolStart.tool_description, TOOL_NOT_FOUND);
    assert.equal(last.output, answerArgs('ok'));
  });

  test('DFS with ranking: a candidate closes as soon as it is made; rank calls report nothing', async () => {
    const script = [call(fn('alpha'), '{}'), call(fn('beta'), '{}'), rank('A'), rank('B'), finish('a'), finish('b'), rank('A'), rank('B')];
    const { events, last } = await streamOf('DFS_wFilter_w2', script);
    const lines = brief(events);
    assert.ok(lines.indexOf('on_chain_end llm-1 d0') < lines.indexOf('on_chain_start llm-2 d0'), lines.join('\n'));
    // four agent calls, each opened and closed once; the four rank calls are not reported
    for (const name of ['on_chain_start', 'on_llm_start', 'on_llm_end', 'on_chain_end']) assert.equal(events.filter((event) => event.method_name === name).length, 4, name);
    assert.equal(last.output, answerArgs('a'));
  });

  test('the call budget ends the search: the step that spent it is not closed, its ancestors are (as upstream)', async () => {
    const { events, last } = await streamOf('DFS_woFilter_w2', [call(fn('alpha'), '{}'), call(fn('beta'), '{}')], { maxQueryCount: 2 });
    assert.deepEqual(brief(events).slice(-5), ['on_chain_start llm-2 d0', 'on_llm_start llm-2 d0', 'on_llm_end llm-2 d0', 'on_chain_end llm-1 d0', 'on_agent_end tool-1 d0']);
    assert.deepEqual([last.output, last.chain], ['', []]);
  });

  test('CoT reports no steps, only the retrieval, the start and the end', async () => {
    const { events, last } = await streamOf('CoT@1', [call(fn('alpha'), '{}'), finish('done')]);
    assert.deepEqual(brief(events), ['on_tool_retrieval_start recommendation-1', 'on_tool_retrieval_end recommendation-1', 'on_request_start start']);
    assert.equal(last.output, answerArgs('done'));
  });

  test('block ids count per request: a new StreamEvents starts at llm-1 again', async () => {
    const task = makeTask(['alpha']);
    const first = await streamOf('DFS_woFilter_w2', [finish('x')], { task });
    const second = await streamOf('DFS_woFilter_w2', [finish('y')], { task });
    assert.deepEqual(brief(first.events), brief(second.events));
  });
});
