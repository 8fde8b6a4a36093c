/**
 * Conformance: `toolbench tools functions` reproduces the function lists recorded in real
 * upstream files, byte for byte once serialised (key order included).
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FINISH_FUNCTION, FINISH_FUNCTION_2023 } from '../../src/protocol/prompts.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { runToolbench } from '../helpers/cli.js';
import { SKIP_WITHOUT_DATA, TOOLBENCH_DATA, dataPath, readJson, TEST_SETS } from '../helpers/paths.js';

interface ConvertedEntry {
  query: string;
  available_tools: unknown[];
}

/** Converted predictions whose query (same id, same text) has an api_list in a query file here. */
function casesWithQueries(): { label: string; queries: string; id: string; expected: unknown[]; digitPrefix: boolean }[] {
  const cases = [];
  // StableToolBench example run (HEAD naming rules).
  const example = dataPath('stabletoolbench/solvable_queries_example/test_instruction/G1_instruction.json');
  for (const method of ['virtual_chatgpt_cot', 'virtual_chatgpt_dfs']) {
    const converted = readJson<Record<string, ConvertedEntry>>(dataPath(`stabletoolbench/data_example/model_predictions_converted/${method}/G1_instruction.json`));
    for (const [id, entry] of Object.entries(converted)) {
      cases.push({ label: `${method} ${id}`, queries: example, id, expected: entry.available_tools, digitPrefix: true });
    }
  }
  // ToolEval's reference predictions (2023 naming rules: no get_ prefix before a digit).
  for (const set of TEST_SETS) {
    const queriesFile = dataPath(`stabletoolbench/solvable_queries/test_instruction/${set}.json`);
    const texts = new Map(readJson<{ query_id: number; query: string }[]>(queriesFile).map((query) => [String(query.query_id), query.query]));
    const converted = readJson<Record<string, ConvertedEntry>>(dataPath(`toolbench/toolbench/tooleval/results/default_evalset/gpt-3.5-turbo_CoT/${set}.json`));
    for (const [id, entry] of Object.entries(converted)) {
      if (texts.get(id) === entry.query) {
        cases.push({ label: `default_evalset ${set} ${id}`, queries: queriesFile, id, expected: entry.available_tools, digitPrefix: false });
      }
    }
  }
  return cases;
}

describe('available_tools of real converted predictions', { skip: SKIP_WITHOUT_DATA }, () => {
  test('tools functions (from the query api_list) reproduces every one exactly', async () => {
    const cases = casesWithQueries();
    assert.equal(cases.length, 12, 'six StableToolBench example entries and six reference predictions have their queries here');
    for (const item of cases) {
      const args = ['tools', 'functions', '--queries', item.queries, '--id', item.id, '--json'];
      const result = await runToolbench(item.digitPrefix ? args : [...args, '--no-digit-prefix']);
      assert.equal(result.code, 0, `${item.label}: ${result.stderr}`);
      assert.equal(pyJsonDumps(pyJsonParse(result.stdout)), pyJsonDumps(item.expected), item.label);
    }
  });

  test('the reference predictions were built without the digit prefix: HEAD rules differ exactly there', async () => {
    const queries = dataPath('stabletoolbench/solvable_queries/test_instruction/G2_instruction.json');
    const result = await runToolbench(['tools', 'functions', '--queries', queries, '--id', '79644', '--json']);
    const names = (pyJsonParse(result.stdout) as { name: string }[]).map((fn) => fn.name);
    assert.ok(names.includes('get_7_get_order_history_for_rewards_as_a_service'));
    const converted = readJson<Record<string, ConvertedEntry>>(dataPath('toolbench/toolbench/tooleval/results/default_evalset/gpt-3.5-turbo_CoT/G2_instruction.json'));
    const recorded = (converted['79644']?.available_tools as { name: string }[]).map((fn) => fn.name);
    assert.ok(recorded.includes('7_get_order_history_for_rewards_as_a_service'));
  });
});

describe('function lists of real answer trees, from the 2023 tool layout', { skip: SKIP_WITHOUT_DATA }, () => {
  test('tools functions --tools (ToolBench 2023 olato_quotes.json) reproduces answer_generation.function of query 82217', async () => {
    const queries = dataPath('toolbench/history-b2384c2/data/query/queryG1_demo.json');
    const tools = dataPath('toolbench/history-b2384c2/toolenv/tools');
    // The ChatGPT runs of that release word Finish the 2023 way (FINISH_FUNCTION_2023); the
    // ToolLLaMA runs already use the current wording. The open-domain run used other APIs.
    const answers: [string, 'current' | '2023'][] = [
      ['raw_answer/G1_demo/82217_ChatGPT_DFS_woFilter_w2.json', '2023'],
      ['tooleval_answer/chatgpt_cot/G1_instruction/82217_ChatGPT_CoT@1.json', '2023'],
      ['tooleval_answer/toolllama_dfsdt/G1_instruction/82217_DFS_woFilter_w2.json', 'current'],
      ['pipeline_answer/toolllama/82217_DFS_woFilter_w2.json', 'current'],
      ['pipeline_answer/toolllama_lora/82217_DFS_woFilter_w2.json', 'current'],
    ];
    for (const [answer, finish] of answers) {
      const result = await runToolbench(['tools', 'functions', '--queries', queries, '--id', '82217', '--tools', tools, '--finish', finish, '--json']);
      assert.equal(result.code, 0, result.stderr);
      const tree = readJson<{ answer_generation: { function: unknown[] } }>(dataPath('toolbench/history-b2384c2/data/toolllama', answer));
      assert.equal(pyJsonDumps(pyJsonParse(result.stdout)), pyJsonDumps(tree.answer_generation.function), answer);
    }
  });
});

describe('Finish in real function lists', { skip: SKIP_WITHOUT_DATA }, () => {
  test('every recorded Finish is one of the two shipped wordings, and both occur', () => {
    const seen = new Map<string, number>();
    const visit = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(visit);
      else if (typeof value === 'object' && value !== null) {
        const record = value as Record<string, unknown>;
        if (record.name === 'Finish' && typeof record.parameters === 'object') {
          const text = pyJsonDumps(record);
          const wording = text === pyJsonDumps(FINISH_FUNCTION) ? 'current' : text === pyJsonDumps(FINISH_FUNCTION_2023) ? '2023' : text;
          seen.set(wording, (seen.get(wording) ?? 0) + 1);
        } else Object.values(record).forEach(visit);
      }
    };
    for (const file of jsonFilesUnder(TOOLBENCH_DATA)) visit(readJson<unknown>(file));
    assert.deepEqual([...seen.keys()].sort(), ['2023', 'current']);
  });
});

function jsonFilesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return path.includes('toolenv2404') ? [] : jsonFilesUnder(path);
    return entry.name.endsWith('.json') && statSync(path).size > 0 ? [path] : [];
  });
}
