import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { apiToFunction, mapParameterType, toToolsShape } from '../../src/registry/function-schema.js';
import type { ToolParameter } from '../../src/registry/tool-document.js';
import { FINISH_FUNCTION } from '../../src/protocol/prompts.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { pyRepr } from '../../src/util/pyrepr.js';
import { PyFloat } from '../../src/util/py-value.js';

const parameter = (name: string, type: string, defaultValue: ToolParameter['default'], description = ''): ToolParameter => ({
  name,
  type,
  description,
  default: defaultValue,
});

describe('apiToFunction', () => {
  test('builds the upstream schema with its key order', () => {
    const fn = apiToFunction(
      { apiName: 'Love Quote', apiDescription: 'It shows random quotes', requiredParameters: [parameter('quotes', 'STRING', 'random quotes')], optionalParameters: [] },
      'olato_quotes',
    );
    assert.equal(
      pyJsonDumps(fn),
      '{"name": "love_quote_for_olato_quotes", "description": "This is the subfunction for tool \\"olato_quotes\\", you can use this tool.The description of this function is: \\"It shows random quotes\\"", "parameters": {"type": "object", "properties": {"quotes": {"type": "string", "description": "", "example_value": "random quotes"}}, "required": ["quotes"], "optional": []}}',
    );
  });

  test('a blank description adds nothing after the tool sentence', () => {
    const fn = apiToFunction({ apiName: 'x', apiDescription: ' \n ', requiredParameters: [], optionalParameters: [] }, 't');
    assert.equal(fn.description, 'This is the subfunction for tool "t", you can use this tool.');
  });

  test('replaces every occurrence of the original API name by the function name, then cuts to 256', () => {
    const fn = apiToFunction(
      { apiName: 'Convert', apiDescription: `  Convert money. Convert again. ${'x'.repeat(300)}`, requiredParameters: [], optionalParameters: [] },
      'cc',
    );
    const detail = fn.description.split('The description of this function is: "')[1] as string;
    assert.ok(detail.startsWith('convert_for_cc money. convert_for_cc again. xxx'));
    assert.equal(detail.length, 256 + 1); // 256 characters and the closing quote
  });

  test('an empty API name inserts the function name around every character (Python str.replace)', () => {
    const fn = apiToFunction({ apiName: '', apiDescription: 'ab', requiredParameters: [], optionalParameters: [] }, 't');
    assert.ok(fn.description.endsWith('"_for_ta_for_tb_for_t"'));
  });

  test('optional parameters are dropped when there is no required one (upstream quirk)', () => {
    const fn = apiToFunction({ apiName: 'a', apiDescription: '', requiredParameters: [], optionalParameters: [parameter('p', 'STRING', 'v')] }, 't');
    assert.deepEqual(fn.parameters, { type: 'object', properties: {}, required: [], optional: [] });
  });

  test('example_value is omitted only for an empty-string default; None, [], 0 and false are kept', () => {
    const fn = apiToFunction(
      {
        apiName: 'a',
        apiDescription: '',
        requiredParameters: [parameter('empty', 'STRING', ''), parameter('none', 'STRING', null), parameter('list', 'ARRAY', [])],
        optionalParameters: [parameter('zero', 'NUMBER', 0), parameter('no', 'BOOLEAN', false), parameter('float', 'NUMBER', new PyFloat(10)), parameter('absent', 'STRING', undefined)],
      },
      't',
    );
    const properties = fn.parameters.properties;
    assert.equal('example_value' in (properties.empty ?? {}), false);
    assert.equal('example_value' in (properties.absent ?? {}), false);
    assert.equal(properties.none?.example_value, null);
    assert.deepEqual(properties.list?.example_value, []);
    assert.equal(properties.zero?.example_value, 0);
    assert.equal(properties.no?.example_value, false);
    assert.equal(pyJsonDumps(properties.float), '{"type": "integer", "description": "", "example_value": 10.0}');
  });

  test('parameter names become is_id / is_from, descriptions are cut to 256 characters', () => {
    const fn = apiToFunction(
      { apiName: 'a', apiDescription: '', requiredParameters: [parameter('id', 'STRING', 'x', '😀'.repeat(300))], optionalParameters: [parameter('from', 'STRING', 'y')] },
      't',
    );
    assert.deepEqual(fn.parameters.required, ['is_id']);
    assert.deepEqual(fn.parameters.optional, ['is_from']);
    assert.equal(Array.from(fn.parameters.properties.is_id?.description ?? '').length, 256);
  });

  test('a repeated parameter name overwrites the property but is listed again', () => {
    const fn = apiToFunction(
      { apiName: 'a', apiDescription: '', requiredParameters: [parameter('id', 'STRING', 'first'), parameter('ID', 'NUMBER', 7)], optionalParameters: [] },
      't',
    );
    assert.deepEqual(fn.parameters.required, ['is_id', 'is_id']);
    assert.deepEqual(fn.parameters.properties, { is_id: { type: 'integer', description: '', example_value: 7 } });
  });

  test('index-like parameter names keep their order (2023 naming, no digit prefix)', () => {
    const fn = apiToFunction(
      { apiName: 'a', apiDescription: '', requiredParameters: [parameter('b', 'STRING', ''), parameter('2', 'STRING', ''), parameter('1', 'STRING', '')], optionalParameters: [] },
      't',
      { digitPrefix: false },
    );
    assert.equal(
      pyJsonDumps(fn.parameters.properties),
      '{"b": {"type": "string", "description": ""}, "2": {"type": "string", "description": ""}, "1": {"type": "string", "description": ""}}',
    );
    assert.deepEqual(fn.parameters.required, ['b', '2', '1']);
  });
});

describe('parameter types', () => {
  test('only NUMBER, STRING and BOOLEAN are mapped; everything else is a string', () => {
    assert.deepEqual(
      ['NUMBER', 'STRING', 'BOOLEAN', 'string', 'number', 'ENUM', 'DATE (YYYY-MM-DD)', 'ARRAY', 'OBJECT', 'BINARY', ''].map(mapParameterType),
      ['integer', 'string', 'boolean', 'string', 'string', 'string', 'string', 'string', 'string', 'string', 'string'],
    );
  });
});

describe('Finish', () => {
  test('its Python repr is the text ToolLLaMA was trained on (prompts.md §1.4)', () => {
    assert.equal(
      pyRepr(FINISH_FUNCTION),
      `{'name': 'Finish', 'description': 'If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task in the current state, call this function to restart. Remember: you must ALWAYS call this function at the end of your attempt, and the only part that will be shown to the user is the final answer, so it should contain sufficient information.', 'parameters': {'type': 'object', 'properties': {'return_type': {'type': 'string', 'enum': ['give_answer', 'give_up_and_restart']}, 'final_answer': {'type': 'string', 'description': 'The final answer you want to give the user. You should have this field if "return_type"=="give_answer"'}}, 'required': ['return_type']}}`,
    );
  });

  test('the tools shape wraps each function', () => {
    assert.deepEqual(toToolsShape([FINISH_FUNCTION]), [{ type: 'function', function: FINISH_FUNCTION }]);
  });
});
