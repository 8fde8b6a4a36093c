/**
 * Conformance of pyjson / pyrepr with real files written by Python: every JSON file of the shared
 * data round-trips byte for byte, and ToolEval's `Step n: str(message)` texts are reproduced.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { pyRepr } from '../../src/util/pyrepr.js';
import { SKIP_WITHOUT_DATA, TOOLBENCH_DATA, dataPath, readJson } from '../helpers/paths.js';

function jsonFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : [];
  });
}

describe('pyjson against files written by Python', { skip: SKIP_WITHOUT_DATA }, () => {
  test('every non-empty JSON file re-serialises to its own bytes with one json.dumps setting', () => {
    const files = jsonFiles(TOOLBENCH_DATA);
    assert.ok(files.length > 900, `${files.length} files`);
    const unmatched: string[] = [];
    for (const file of files) {
      const raw = readFileSync(file, 'utf8');
      if (raw === '') continue; // response_examples/Business/acrosuite_oauther.json is empty upstream
      const text = raw.replaceAll('\r\n', '\n'); // some upstream files were committed with CRLF
      const value = pyJsonParse(text);
      const settings = [undefined, 2, 4].flatMap((indent) => [true, false].map((ensureAscii) => ({ indent, ensureAscii })));
      const matches = settings.some((setting) => {
        const written = pyJsonDumps(value, setting);
        return written === text || `${written}\n` === text;
      });
      if (!matches) unmatched.push(file);
    }
    assert.deepEqual(unmatched, []);
  });
});

interface DetailNode {
  role: string;
  message: unknown;
  next: DetailNode[];
}

/** ToolEval's get_steps (spec tooleval.md §2.3): `Step n: str(message)` of the tool nodes. */
function stepsOf(details: DetailNode[]): { answerSteps: string; finalStep: string } {
  const lines: string[] = [];
  let last: unknown;
  for (let node: DetailNode | undefined = details[0]; node !== undefined; node = node.next[0]) {
    if (node.role === 'tool' && node.message !== '' && node.message !== null) {
      lines.push(`Step ${lines.length + 1}: ${pyRepr(node.message)}`);
      last = node.message;
    }
  }
  return { answerSteps: lines.join('\n'), finalStep: last === undefined ? '' : `Final step: ${pyRepr(last)}` };
}

describe('pyrepr against ToolEval result files', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const method of ['virtual_chatgpt_cot', 'virtual_chatgpt_dfs']) {
    test(`${method}: answer_steps and final_step are str() of the converted messages`, () => {
      const converted = readJson<Record<string, { answer: { answer_details: DetailNode[] } }>>(dataPath(`stabletoolbench/data_example/model_predictions_converted/${method}/G1_instruction.json`));
      const results = readJson<Record<string, { answer_steps: string; final_step: string }>>(dataPath(`stabletoolbench/data_example/pass_rate_results/${method}/G1_instruction_${method}.json`));
      assert.equal(Object.keys(results).length, 3);
      for (const [id, result] of Object.entries(results)) {
        const steps = stepsOf(converted[id]?.answer.answer_details ?? []);
        assert.equal(steps.answerSteps, result.answer_steps, `${id} answer_steps`);
        assert.equal(steps.finalStep, result.final_step, `${id} final_step`);
      }
    });
  }
});
