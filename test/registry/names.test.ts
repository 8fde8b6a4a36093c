import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { changeName, functionName, parameterName, pureApiName, standardize, standardizeCategory } from '../../src/registry/names.js';

describe('standardize', () => {
  // The examples of spec algorithms.md §2.1.
  const cases: [string, string][] = [
    ['Love Quote', 'love_quote'],
    ['/offices/search/:service/:stateIsoCode/:keyword', 'offices_search_service_stateisocode_keyword'],
    ['Investors Exchange (IEX) Trading', 'investors_exchange_iex_trading'],
    ['3D Models', 'get_3d_models'],
    ['Café Crème', 'caf_cr_me'],
    ['a^b', 'a^b'],
    ['日本語API', '日本語api'],
    ['天气预报 API', '天气预报_api'],
    ['___', ''],
    ['테스트위드', ''],
    ['  --Get  User!!--  ', 'get_user'],
    ['😀 emoji', 'emoji'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(standardize(input), expected));
  }

  test('without the digit prefix (the 2023 code), a leading digit stays', () => {
    assert.equal(standardize('7. Get order history', { digitPrefix: false }), '7_get_order_history');
    assert.equal(standardize('7. Get order history'), 'get_7_get_order_history');
  });
});

describe('derived names', () => {
  test('change_name prefixes the seven upstream words only', () => {
    for (const word of ['from', 'class', 'return', 'false', 'true', 'id', 'and']) assert.equal(changeName(word), `is_${word}`);
    assert.equal(changeName('ids'), 'ids');
    assert.equal(changeName('None'), 'None');
  });

  test('parameter and API names are standardized, then changed', () => {
    assert.equal(parameterName('ID'), 'is_id');
    assert.equal(parameterName('From'), 'is_from');
    assert.equal(pureApiName('Return'), 'is_return');
  });

  test('function names keep the last 64 characters', () => {
    assert.equal(functionName('love_quote', 'olato_quotes'), 'love_quote_for_olato_quotes');
    const long = functionName('retrieve_the_complete_historical_record', 'a_very_long_tool_name_for_testing');
    assert.equal(long.length, 64);
    assert.equal(long, 'retrieve_the_complete_historical_record_for_a_very_long_tool_name_for_testing'.slice(-64));
  });

  test('standardize_category replaces space, comma and slash, then __ once', () => {
    assert.equal(standardizeCategory('News, Media'), 'News_Media');
    assert.equal(standardizeCategory('Artificial Intelligence/Machine Learning'), 'Artificial_Intelligence_Machine_Learning');
    assert.equal(standardizeCategory('a , b'), 'a__b'); // "a___b" → one pass of "__" → "_" gives "a__b"
  });
});
