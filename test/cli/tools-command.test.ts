import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { runToolbench } from '../helpers/cli.js';
import { fixture } from '../helpers/paths.js';

const QUERIES = fixture('queries', 'edge-queries.json');
const TOOLS_2023 = fixture('toolenv-2023');

describe('toolbench (program)', () => {
  test('--version prints the package version', async () => {
    const result = await runToolbench(['--version']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test('--help lists the commands, the exit codes and examples', async () => {
    const result = await runToolbench(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /tools\s+the tool registry/);
    assert.match(result.stdout, /Exit codes: 0 ok/);
    assert.match(result.stdout, /Examples:\n(?: {2}\$ .*\n)* {2}\$ toolbench tools functions/);
  });

  test('only built commands are registered', async () => {
    const result = await runToolbench(['--help']);
    const commands = [...result.stdout.matchAll(/^ {2}(\S+)/gm)].map((match) => match[1]);
    assert.deepEqual(commands.filter((name) => !name?.startsWith('-') && name !== '$'), ['tools', 'cache', 'serve', 'preprocess', 'infer', 'eval', 'model', 'setup', 'doctor', 'help']);
  });

  test('an unknown command or flag is a usage error: exit 2 with a suggestion', async () => {
    const command = await runToolbench(['infr']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'infr'/);
    const flag = await runToolbench(['tools', 'list', '--tools', TOOLS_2023, '--jsn']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--jsn'\n\(Did you mean --json\?\)/);
  });

  test('a missing required flag is a usage error (exit 2)', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /required option '--id <query_id>' not specified/);
  });

  test('without a command it prints the usage and exits 2', async () => {
    const result = await runToolbench([]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /Usage: toolbench/);
  });
});

describe('toolbench tools list', () => {
  test('prints a table of tools, and a summary on stderr', async () => {
    const result = await runToolbench(['tools', 'list', '--tools', TOOLS_2023]);
    assert.equal(result.code, 0);
    assert.deepEqual(
      result.stdout.split('\n').map((line) => line.split(/\s{2,}/)[1]),
      ['TOOL', 'get_3d_models', 'quote_garden', 'a_very_long_tool_name_for_testing_truncation_of_function_names', 'duplicate_names', '天气预报_api', undefined],
    );
    assert.equal(result.stderr, '5 tools, 10 APIs in 4 categories (toolbench-2023 layout)\n');
  });

  test('--json gives the layout, the tools and the problems; --category filters', async () => {
    const result = await runToolbench(['tools', 'list', '--tools', fixture('toolenv-2404'), '--category', 'Sports', '--json']);
    assert.equal(result.code, 0);
    const listing = pyJsonParse(result.stdout) as { layout: string; tools: { standard_name: string; apis: number }[]; problems: unknown[] };
    assert.equal(listing.layout, 'toolenv2404');
    assert.deepEqual(listing.tools.map((tool) => [tool.standard_name, tool.apis]), [['live_scores', 2]]);
    assert.deepEqual(listing.problems, []);
  });

  test('an unknown category is a usage error', async () => {
    const result = await runToolbench(['tools', 'list', '--tools', TOOLS_2023, '--category', 'Nope']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--category Nope: no such category/);
  });

  test('bad tool files are reported and the rest listed (exit 3); --strict fails on them (exit 2)', async () => {
    const lenient = await runToolbench(['tools', 'list', '--tools', fixture('toolenv-bad')]);
    assert.equal(lenient.code, 3);
    assert.match(lenient.stdout, /live_scores/);
    assert.equal(lenient.stderr.match(/^warning: /gm)?.length, 4);
    assert.match(lenient.stderr, /\n1 tool, 2 APIs in 1 category \(toolenv2404 layout\); skipped 4 unreadable or malformed files or folders \(--strict to fail instead\)\n$/);
    assert.match(lenient.stderr, /wrong_types\.json: \$\.api_list\[1\]\.required_parameters\[0\]\.name: expected a string, got an integer/);
    const strict = await runToolbench(['tools', 'list', '--tools', fixture('toolenv-bad'), '--strict']);
    assert.equal(strict.code, 2);
    assert.equal(strict.stdout, '');
    assert.match(strict.stderr, /^error: .*empty\.json: \$: expected a JSON document, got an empty file\n$/);
  });

  test('a directory without tool files is listed as empty, with a warning', async () => {
    const result = await runToolbench(['tools', 'list', '--tools', fixture('queries')]);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /^warning: no tool files under .*queries \(expected <Category>\/<tool>\.json inside it\)\n0 tools, 0 APIs in 0 categories/);
  });

  test('a --tools path that is not a directory is exit 2', async () => {
    const result = await runToolbench(['tools', 'list', '--tools', QUERIES]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /edge-queries\.json: not a directory/);
  });
});

describe('toolbench tools show', () => {
  test('finds a tool by its original name and shows its APIs and parameters', async () => {
    const result = await runToolbench(['tools', 'show', 'Quote Garden', '--tools', TOOLS_2023]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Quote Garden {2}\(Social\/quote_garden\)\n/);
    assert.match(result.stdout, /in the system prompt: quote_garden: Quotes for every occasion\.Love, success/);
    assert.match(result.stdout, /quote_by_id_for_quote_garden {2}\[GET\] "Quote by ID"\n.*\n {6}- is_id: integer, required, e\.g\. 0\n {6}- is_from: boolean, optional, e\.g\. false/);
  });

  test('--json includes the function schemas', async () => {
    const result = await runToolbench(['tools', 'show', 'Social/quote_garden', '--tools', TOOLS_2023, '--json']);
    assert.equal(result.code, 0);
    const shown = pyJsonParse(result.stdout) as { standardized_name: string; functions: { name: string }[]; apis: { function_name: string }[] };
    assert.equal(shown.standardized_name, 'quote_garden');
    assert.deepEqual(shown.functions.map((fn) => fn.name), shown.apis.map((api) => api.function_name));
  });

  test('an ambiguous name lists the candidates; an unknown one suggests similar names (exit 2)', async () => {
    const ambiguous = await runToolbench(['tools', 'show', 'Currency Converter', '--tools', fixture('toolenv-2404')]);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /ambiguous .*Finance\/currency_converter, Financial\/currency_converter; write CATEGORY\/NAME/);
    const unknown = await runToolbench(['tools', 'show', 'quote', '--tools', TOOLS_2023]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no tool named quote .*\(similar: Social\/quote_garden\)/);
  });
});

describe('toolbench tools functions', () => {
  test('--json prints the exact list, as Python json.dumps(indent=2) would', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '101', '--json']);
    assert.equal(result.code, 0);
    assert.equal(result.stderr, '');
    const list = pyJsonParse(result.stdout) as { name: string }[];
    assert.equal(list.at(-1)?.name, 'Finish');
    assert.match(result.stdout, /^\[\n {2}\{\n {4}"name": "love_quote_for_quote_garden",\n/);
  });

  test('--tools builds the list from the tool files and reports what is missing (exit 3)', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '103', '--tools', TOOLS_2023, '--json']);
    assert.equal(result.code, 3);
    assert.deepEqual((pyJsonParse(result.stdout) as { name: string }[]).map((fn) => fn.name), ['love_quote_for_quote_garden', 'Finish']);
    assert.match(result.stderr, /edge-queries\.json: \$\[2\]\.api_list\[0\]: no tool file Data\/nowhere_tool\.json/);
    assert.match(result.stderr, /3 of 4 APIs left out/);
  });

  test('--shape tools wraps the functions', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '105', '--shape', 'tools', '--json']);
    const list = pyJsonParse(result.stdout) as { type: string; function: { name: string } }[];
    assert.deepEqual(list.map((item) => [item.type, item.function.name]), [
      ['function', 'get_2023_stats_for_get_3d_models'],
      ['function', 'search_for_get_3d_models'],
      ['function', 'Finish'],
    ]);
  });

  test('--no-digit-prefix standardizes API names as the 2023 code did', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '105', '--no-digit-prefix', '--json']);
    assert.match(result.stdout, /"name": "2023_stats_for_get_3d_models"/);
  });

  test('without --json prints one readable block per function', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '101']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^love_quote_for_quote_garden\n {4}Returns a random love quote\.\nquote_by_id_for_quote_garden\n/);
    assert.match(result.stdout, /\nFinish\n .*\n {4}- return_type: string \(give_answer \| give_up_and_restart\), required\n {4}- final_answer: string, optional\n$/);
  });

  test('duplicate function names are warned about', async () => {
    const result = await runToolbench(['tools', 'functions', '--queries', QUERIES, '--id', '104', '--tools', TOOLS_2023]);
    assert.equal(result.code, 0);
    assert.match(result.stderr, /warning: function name get_user_for_duplicate_names occurs more than once/);
  });

  test('bad input: unknown id, missing file, malformed file, query without descriptions (exit 2)', async () => {
    const cases: [string[], RegExp][] = [
      [['--queries', QUERIES, '--id', '999'], /no query with query_id 999 \(6 queries in the file\)/],
      [['--queries', fixture('queries', 'absent.json'), '--id', '1'], /absent\.json: no such file/],
      [['--queries', fixture('queries-bad', 'bad-api-list.json'), '--id', '2'], /bad-api-list\.json: \$\[1\]\.api_list\[1\]\.tool_name: expected a string, got an integer/],
      [['--queries', QUERIES, '--id', '102'], /\$\[1\]\.api_list\[0\]\.api_description: expected a string \(this query does not describe its APIs; pass --tools DIR/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runToolbench(['tools', 'functions', ...args]);
      assert.equal(result.code, 2, args.join(' '));
      assert.equal(result.stdout, '');
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /\n {4}at /, 'no stack trace without --debug');
    }
  });

  test('a malformed tool file needed by the query is exit 2 with its path; --debug adds the stack', async () => {
    const queries = fixture('queries-bad', 'uses-broken-tool.json');
    const result = await runToolbench(['tools', 'functions', '--queries', queries, '--id', '1', '--tools', fixture('toolenv-bad')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^error: .*wrong_types\.json: \$\.api_list\[1\]\.required_parameters\[0\]\.name: expected a string, got an integer\n$/);
    const debug = await runToolbench(['--debug', 'tools', 'functions', '--queries', queries, '--id', '1', '--tools', fixture('toolenv-bad')]);
    assert.match(debug.stderr, /\n {4}at /);
  });
});
