import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_PRICES_YAML, createPriceTable, loadPriceTable } from '../../src/llm/prices.js';
import { ToolbenchError } from '../../src/util/errors.js';

const directory = mkdtempSync(join(tmpdir(), 'toolbench-prices-'));
after(() => rmSync(directory, { recursive: true, force: true }));

function priceFile(name: string, text: string): string {
  const file = join(directory, name);
  writeFileSync(file, text);
  return file;
}

describe('built-in prices', () => {
  const table = loadPriceTable();

  test('the models both upstreams use have prices', () => {
    assert.deepEqual(table.priceOf('gpt-3.5-turbo-16k-0613'), { input: 3, output: 4 });
    assert.deepEqual(table.priceOf('gpt-4-turbo-2024-04-09'), { input: 10, output: 30 });
    for (const model of ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-4.1-mini', 'gpt-4.1-nano', 'gpt-4-turbo', 'gpt-4', 'gpt-3.5-turbo', 'o3-mini']) {
      assert.notEqual(table.priceOf(model), undefined, model);
    }
  });

  test('every entry of the embedded YAML is a non-negative input and output price', () => {
    const models = (parseYaml(DEFAULT_PRICES_YAML) as { models: Record<string, { input: number; output: number }> }).models;
    assert.ok(Object.keys(models).length >= 10);
    for (const [model, price] of Object.entries(models)) {
      assert.deepEqual(Object.keys(price), ['input', 'output'], model);
      assert.ok(price.input >= 0 && price.output >= price.input, model);
    }
  });
});

describe('matching a model name', () => {
  const table = createPriceTable([
    ['gpt-4o', { input: 2.5, output: 10 }],
    ['gpt-4o-mini', { input: 0.15, output: 0.6 }],
    ['gpt-4', { input: 30, output: 60 }],
  ]);

  test('a dated variant is priced as its base model', () => {
    assert.deepEqual(table.priceOf('gpt-4o-2024-08-06'), { input: 2.5, output: 10 });
    assert.deepEqual(table.priceOf('gpt-4-0613'), { input: 30, output: 60 });
  });

  test('the longest matching key wins, so gpt-4o-mini variants are not priced as gpt-4o', () => {
    assert.deepEqual(table.priceOf('gpt-4o-mini'), { input: 0.15, output: 0.6 });
    assert.deepEqual(table.priceOf('gpt-4o-mini-2024-07-18'), { input: 0.15, output: 0.6 });
  });

  test('a prefix must be followed by a dash', () => {
    assert.equal(table.priceOf('gpt-4omni'), undefined);
    assert.equal(table.priceOf('gpt-4.1'), undefined);
    assert.equal(table.priceOf('gpt'), undefined);
  });

  test('an unknown model has no price and costs nothing', () => {
    assert.equal(table.priceOf('llama-3-70b'), undefined);
    assert.equal(table.costOf('llama-3-70b', { promptTokens: 1000, completionTokens: 1000, totalTokens: 2000 }), 0);
  });

  test('the cost is input and output tokens at their per-million prices', () => {
    const cost = table.costOf('gpt-4o-2024-08-06', { promptTokens: 1_000, completionTokens: 200, totalTokens: 1_200 });
    assert.ok(Math.abs(cost - (1_000 * 2.5 + 200 * 10) / 1e6) < 1e-15, String(cost));
  });
});

describe('a price file', () => {
  test('its models are added to the built-in ones and replace those of the same name', () => {
    const file = priceFile('override.yaml', 'models:\n  gpt-4o: {input: 1, output: 2}\n  my-local-model: {input: 0, output: 0.5}\n');
    const table = loadPriceTable(file);
    assert.deepEqual(table.priceOf('gpt-4o-2024-08-06'), { input: 1, output: 2 });
    assert.deepEqual(table.priceOf('my-local-model'), { input: 0, output: 0.5 });
    assert.deepEqual(table.priceOf('gpt-4o-mini'), loadPriceTable().priceOf('gpt-4o-mini'));
  });

  function assertBadFile(text: string, expected: RegExp): void {
    const file = priceFile('bad.yaml', text);
    assert.throws(
      () => loadPriceTable(file),
      (error: unknown) => {
        assert.ok(error instanceof ToolbenchError);
        assert.equal(error.code, 'input.invalid');
        assert.equal(error.exitCode, 2);
        assert.ok(error.message.startsWith(`${file}: `), error.message);
        assert.match(error.message, expected);
        return true;
      },
    );
  }

  test('a price that is not a non-negative number is refused with its key path', () => {
    assertBadFile('models:\n  gpt-4o: {input: cheap, output: 2}\n', /: \$\.models\["gpt-4o"\]\.input: expected a non-negative number.*got a string/);
    assertBadFile('models:\n  gpt-4o: {input: -1, output: 2}\n', /\$\.models\["gpt-4o"\]\.input: .*got -1/);
    assertBadFile('models:\n  gpt-4o: {input: 1}\n', /\$\.models\["gpt-4o"\]\.output: .*got nothing/);
  });

  test('a file without a models mapping is refused', () => {
    assertBadFile('gpt-4o: {input: 1, output: 2}\n', /: \$\.models: expected a mapping/);
    assertBadFile('models: [gpt-4o]\n', /: \$\.models: expected a mapping.*got an array/);
    assertBadFile('models:\n  gpt-4o: 2.5\n', /\$\.models\["gpt-4o"\]: expected a mapping/);
    assertBadFile('', /: \$: expected a mapping/);
  });

  test('invalid YAML and a missing file are refused', () => {
    assertBadFile('models: {gpt-4o: [\n', /: \$: expected a YAML document, got a syntax error/);
    const missing = join(directory, 'missing.yaml');
    assert.throws(() => loadPriceTable(missing), (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && error.message.includes(missing));
  });
});
