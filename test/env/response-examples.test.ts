import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ResponseExamples } from '../../src/env/response-examples.js';
import { fixture } from '../helpers/paths.js';

const ROOT = fixture('toolenv-local', 'response_examples');

describe('ResponseExamples (formats.md §1.3)', () => {
  test('the schema of an API is found by its pure name', () => {
    const examples = new ResponseExamples(ROOT);
    assert.deepEqual(examples.schemaFor({ category: 'Sports', tool: 'match_center', api: 'team_profile' }), {
      name: 'str',
      stadium: { name: 'str', capacity: 'int' },
      players: [{ name: 'str', number: 'int' }],
    });
  });

  test('an empty schema, an unknown API or a missing file mean no schema', () => {
    const examples = new ResponseExamples(ROOT);
    assert.equal(examples.schemaFor({ category: 'Sports', tool: 'match_center', api: 'status' }), undefined);
    assert.equal(examples.schemaFor({ category: 'Sports', tool: 'match_center', api: 'nothing' }), undefined);
    assert.equal(examples.schemaFor({ category: 'Sports', tool: 'no_such_tool', api: 'x' }), undefined);
    assert.equal(examples.schemaFor({ category: 'NoSuchCategory', tool: 'x', api: 'x' }), undefined);
  });

  test('empty (0-byte) and invalid files mean no schema', () => {
    const examples = new ResponseExamples(ROOT);
    assert.equal(examples.schemaFor({ category: 'Customized', tool: 'hello_world', api: 'get_hello_world' }), undefined);
    assert.equal(examples.schemaFor({ category: 'Sports', tool: 'scores_lite', api: 'today' }), undefined);
  });

  test('no root means no schema', () => {
    assert.equal(new ResponseExamples(undefined).schemaFor({ category: 'Sports', tool: 'match_center', api: 'team_profile' }), undefined);
  });

  test('category and tool names cannot leave the root', () => {
    // join(<root>, '..', 'match_center.json') would be the real Sports/match_center.json.
    const examples = new ResponseExamples(fixture('toolenv-local', 'response_examples', 'Sports', 'missing'));
    assert.equal(examples.schemaFor({ category: '..', tool: 'match_center', api: 'team_profile' }), undefined);
    const fromRoot = new ResponseExamples(ROOT);
    for (const [category, tool] of [['.', '../Sports/match_center'], ['Sports\\..', 'Sports/match_center'], ['', 'match_center']] as const) {
      assert.equal(fromRoot.schemaFor({ category, tool, api: 'team_profile' }), undefined);
    }
  });
});
