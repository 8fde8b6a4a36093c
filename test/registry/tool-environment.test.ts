import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs, { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, mock, test } from 'node:test';
import { ToolEnvironment, detectLayout } from '../../src/registry/tool-environment.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { fixture } from '../helpers/paths.js';

const TOOLBENCH_2023 = fixture('toolenv-2023');
const TOOLENV_2404 = fixture('toolenv-2404');
const BAD = fixture('toolenv-bad');

describe('ToolEnvironment', () => {
  test('accepts the toolenv/ folder and uses the tools/ folder inside it', () => {
    assert.equal(ToolEnvironment.open(TOOLBENCH_2023).root, join(TOOLBENCH_2023, 'tools'));
    assert.equal(ToolEnvironment.open(join(TOOLBENCH_2023, 'tools')).root, join(TOOLBENCH_2023, 'tools'));
  });

  test('a path that is not a directory is a usage error (exit 2)', () => {
    const usage = (pattern: RegExp) => (error: unknown) =>
      error instanceof ToolbenchError && error.exitCode === 2 && error.code === 'usage.invalid' && pattern.test(error.message);
    assert.throws(() => ToolEnvironment.open(fixture('no-such-dir')), usage(/no-such-dir: no such directory$/));
    assert.throws(() => ToolEnvironment.open(fixture('queries', 'edge-queries.json')), usage(/edge-queries\.json: not a directory$/));
  });

  test('a category named "tools" is a category, not a nested tools folder', (context) => {
    const root = mkdtempSync(join(tmpdir(), 'toolbench-env-'));
    context.after(() => rmSync(root, { recursive: true, force: true }));
    for (const category of ['tools', 'Data']) {
      mkdirSync(join(root, category));
      copyFileSync(fixture('toolenv-2023', 'tools', 'Data', 'get_3d_models.json'), join(root, category, 'get_3d_models.json'));
    }
    const environment = ToolEnvironment.open(root);
    assert.equal(environment.root, root);
    assert.deepEqual(environment.categories(), ['Data', 'tools']);
  });

  test('follows symbolic links to categories and tool files; skips what is not a regular file', (context) => {
    const root = mkdtempSync(join(tmpdir(), 'toolbench-env-'));
    context.after(() => rmSync(root, { recursive: true, force: true }));
    symlinkSync(join(TOOLBENCH_2023, 'tools', 'Social'), join(root, 'Linked'));
    mkdirSync(join(root, 'Local'));
    symlinkSync(fixture('toolenv-2023', 'tools', 'Data', 'get_3d_models.json'), join(root, 'Local', 'get_3d_models.json'));
    execFileSync('mkfifo', [join(root, 'Local', 'a_pipe.json')]); // reading it would block forever
    const environment = ToolEnvironment.open(root);
    assert.deepEqual(environment.allToolFiles().map((location) => `${location.category}/${location.standardName}`), ['Linked/quote_garden', 'Local/get_3d_models']);
    assert.equal(environment.find('Local', 'a_pipe'), undefined);
    assert.equal(environment.loadAll().tools.length, 2);
  });

  test('lists categories and tool files sorted, skipping tool folders (api.py) and keeping a hidden ".json"', () => {
    const environment2023 = ToolEnvironment.open(TOOLBENCH_2023);
    assert.deepEqual(environment2023.categories(), ['Data', 'Social', 'Tools', 'Weather']);
    assert.deepEqual(
      environment2023.toolFiles('Social').map((location) => location.standardName),
      ['quote_garden'],
    );
    const environment2404 = ToolEnvironment.open(TOOLENV_2404);
    assert.deepEqual(
      environment2404.toolFiles('Artificial_Intelligence_Machine_Learning').map((location) => location.standardName),
      [''],
    );
    assert.deepEqual(environment2404.toolFiles('No_Such_Category'), []);
  });

  test('reads both layouts: with and without standardized_name', () => {
    const tool2023 = ToolEnvironment.open(TOOLBENCH_2023).find('Social', 'quote_garden');
    assert.equal(tool2023?.standardizedName, 'quote_garden');
    assert.equal(tool2023?.toolName, 'Quote Garden');
    assert.equal(tool2023?.apis.length, 3);
    assert.equal(detectLayout(ToolEnvironment.open(TOOLBENCH_2023).loadAll().tools), 'toolbench-2023');

    const environment2404 = ToolEnvironment.open(TOOLENV_2404);
    const tool2404 = environment2404.find('Sports', 'live_scores');
    assert.equal(tool2404?.standardizedName, undefined);
    assert.equal(tool2404?.description, null, 'a null tool_description reads as null');
    assert.equal(tool2404?.raw.host, 'live-scores.example.invalid', 'other fields stay available');
    assert.equal(detectLayout(environment2404.loadAll().tools), 'toolenv2404');
  });

  test('find returns undefined for a missing tool and never leaves the root', () => {
    const environment = ToolEnvironment.open(TOOLBENCH_2023);
    assert.equal(environment.find('Social', 'nowhere'), undefined);
    assert.equal(environment.find('..', 'package'), undefined);
    assert.equal(environment.find('Social', '../Data/get_3d_models'), undefined);
  });

  test('locate finds a standard name in every category', () => {
    const environment = ToolEnvironment.open(TOOLENV_2404);
    assert.deepEqual(
      environment.locate('currency_converter').map((location) => location.category),
      ['Finance', 'Financial'],
    );
  });

  test('finding one tool reads only that tool file, once', (context) => {
    const reads: string[] = [];
    const original = fs.readFileSync;
    mock.method(fs, 'readFileSync', (...args: Parameters<typeof fs.readFileSync>) => {
      reads.push(String(args[0]));
      return original(...args);
    });
    syncBuiltinESMExports();
    context.after(() => {
      mock.restoreAll();
      syncBuiltinESMExports();
    });
    const environment = ToolEnvironment.open(BAD); // holds malformed files that must not be read
    const tool = environment.find('Good', 'live_scores');
    assert.equal(tool?.toolName, 'Live Scores');
    assert.equal(environment.find('Good', 'live_scores'), tool, 'parsed once, then cached');
    assert.deepEqual(reads, [join(BAD, 'Good', 'live_scores.json')]);
  });

  test('loadAll loads the good files and reports each bad one with the file, path and expectation', () => {
    const { tools, problems } = ToolEnvironment.open(BAD).loadAll();
    assert.deepEqual(tools.map((tool) => tool.standardName), ['live_scores']);
    assert.deepEqual(
      problems.map((problem) => problem.message),
      [
        `${join(BAD, 'Broken', 'empty.json')}: $: expected a JSON document, got an empty file`,
        `${join(BAD, 'Broken', 'not_an_object.json')}: $: expected an object, got an array`,
        `${join(BAD, 'Broken', 'syntax_error.json')}: $.api_list[0] (line 4, column 45): expected a property name in double quotes`,
        `${join(BAD, 'Broken', 'wrong_types.json')}: $.api_list[1].required_parameters[0].name: expected a string, got an integer`,
      ],
    );
  });

  test('loadAll with strict throws the first bad file as an input error (exit 2)', () => {
    assert.throws(
      () => ToolEnvironment.open(BAD).loadAll({ strict: true }),
      (error: unknown) => error instanceof ToolbenchError && error.exitCode === 2 && error.code === 'input.invalid',
    );
  });

  test('a malformed tool file throws every time it is asked for', () => {
    const environment = ToolEnvironment.open(BAD);
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.throws(() => environment.find('Broken', 'wrong_types'), /required_parameters\[0\]\.name: expected a string/);
    }
  });
});
