/**
 * Conformance: `toolbench eval convert` reproduces StableToolBench's converted example predictions
 * (data_example/model_predictions_converted) from the raw answers beside them.
 *
 * Valid entries must be equal as JSON and, serialised as upstream wrote them, byte for byte. An
 * entry made by a random choice (invalid data) is compared except for the chosen path, and
 * upstream's path must be one that our seeded choice can produce.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { orderedKeys, orderedObject } from '../../src/util/py-value.js';
import { runToolbench } from '../helpers/cli.js';
import { SKIP_WITHOUT_DATA, dataPath, readJson } from '../helpers/paths.js';

interface Entry {
  query: string;
  available_tools: unknown[];
  answer: { method: string; total_steps: number; final_answer: string; answer_details: unknown[] };
  toolbench?: { seed: number; choices: number[] };
}

const EXAMPLE = 'stabletoolbench/data_example';
const RUNS = [
  { run: 'virtual_chatgpt_cot', method: 'CoT@1', randomIds: ['588'] },
  { run: 'virtual_chatgpt_dfs', method: 'DFS_woFilter_w2', randomIds: [] as string[] },
];

async function convert(run: string, method: string, seed: number, indent?: number): Promise<{ text: string; entries: Record<string, Entry> }> {
  const out = join(mkdtempSync(join(tmpdir(), 'eval-convert-conf-')), 'out.json');
  const args = ['eval', 'convert', '--answers', dataPath(EXAMPLE, 'answer', run, 'G1_instruction'), '--method', method, '--out', out, '--seed', String(seed)];
  const result = await runToolbench(indent === undefined ? args : [...args, '--indent', String(indent)]);
  assert.equal(result.code, 0, result.stderr);
  return { text: readFileSync(out, 'utf8'), entries: readJson<Record<string, Entry>>(out) };
}

function withoutRecord(entry: Entry): Entry {
  const { toolbench: _record, ...rest } = entry;
  return rest;
}

describe('toolbench eval convert reproduces StableToolBench data_example', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const { run, method, randomIds } of RUNS) {
    test(`${run}/G1_instruction (${method})`, async () => {
      const expectedFile = dataPath(EXAMPLE, 'model_predictions_converted', run, 'G1_instruction.json');
      const expectedText = readFileSync(expectedFile, 'utf8');
      const expected = readJson<Record<string, Entry>>(expectedFile);
      // Upstream's file is one line; our serialiser reproduces it, so entry texts are comparable.
      assert.equal(pyJsonDumps(expected), expectedText);

      const { entries } = await convert(run, method, 42);
      assert.deepEqual([...orderedKeys(entries)].sort(), [...orderedKeys(expected)].sort());
      const random = Object.keys(entries).filter((id) => entries[id]!.toolbench !== undefined);
      assert.deepEqual(random.sort(), randomIds, 'entries that needed a random choice');

      for (const id of orderedKeys(expected)) {
        const ours = entries[id]!;
        const theirs = expected[id]!;
        if (ours.toolbench === undefined) {
          assert.deepEqual(ours, theirs, `entry ${id}`);
          assert.equal(pyJsonDumps(ours), pyJsonDumps(theirs), `entry ${id} text`);
          continue;
        }
        const { answer_details: _ourPath, total_steps: _ourSteps, ...ourAnswer } = ours.answer;
        const { answer_details: _theirPath, total_steps: _theirSteps, ...theirAnswer } = theirs.answer;
        assert.deepEqual({ ...withoutRecord(ours), answer: ourAnswer }, { ...theirs, answer: theirAnswer }, `entry ${id} outside the path`);
        // Every path our seeded choice can reach; upstream's must be among them.
        const reachable = new Map<string, number>();
        for (let seed = 0; seed < 32; seed++) {
          const entry = seed === 42 ? ours : (await convert(run, method, seed)).entries[id]!;
          reachable.set(pyJsonDumps(entry.answer.answer_details), entry.answer.total_steps);
        }
        assert.equal(reachable.get(pyJsonDumps(theirs.answer.answer_details)), theirs.answer.total_steps, `entry ${id}: upstream's path is reachable`);
      }

      // Whole file, in upstream's id order, without our record: byte for byte.
      const reordered = orderedObject(orderedKeys(expected).map((id) => [id, withoutRecord(entries[id]!)] as const));
      assert.equal(pyJsonDumps(reordered), expectedText);
    });
  }

  test('--indent 2 writes the same entries as Python json.dumps(indent=2)', async () => {
    for (const { run, method } of RUNS) {
      const { text, entries } = await convert(run, method, 42, 2);
      assert.equal(text, pyJsonDumps(entries, { indent: 2 }));
      const expected = readJson<Record<string, Entry>>(dataPath(EXAMPLE, 'model_predictions_converted', run, 'G1_instruction.json'));
      for (const id of Object.keys(expected)) {
        if (entries[id]!.toolbench === undefined) assert.equal(pyJsonDumps(entries[id], { indent: 2 }), pyJsonDumps(expected[id], { indent: 2 }));
      }
    }
  });
});
