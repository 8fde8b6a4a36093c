/**
 * Open-domain API choice (algorithms.md §12 steps 2–3): standardized names, hits whose tool file
 * is missing skipped, the first k kept, duplicates kept, 10 × k documents asked for.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ToolEnvironment } from '../../src/registry/tool-environment.js';
import type { RetrievalHit } from '../../src/retriever/dense-retriever.js';
import { openDomainApis, openDomainQuery, retrieveApis } from '../../src/retriever/open-domain.js';
import { parseQuery } from '../../src/registry/query-file.js';

const root = mkdtempSync(join(tmpdir(), 'toolbench-open-domain-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A toolenv in the `<Category>/<standard tool name>.json` layout. */
function writeTool(category: string, file: string, text = '{"tool_name": "x", "api_list": []}'): void {
  mkdirSync(join(root, category), { recursive: true });
  writeFileSync(join(root, category, file), text);
}
writeTool('Communication', 'sms_gateway.json');
writeTool('News_Media', 'daily_news.json');
writeTool('Data', 'get_3d_models.json');
writeTool('Data', 'broken_tool.json', 'not JSON: only its existence is checked');
writeTool('Data', 'open_weather.bak.json'); // not open_weather.json
mkdirSync(join(root, 'Weather', 'open_weather.json'), { recursive: true }); // a folder, not a tool file
const tools = ToolEnvironment.open(root);

let rank = 0;
function hit(categoryName: string, toolName: string, apiName: string): RetrievalHit {
  return { text: `${categoryName}, ${toolName}, ${apiName}`, score: 1 - ++rank / 100, api: { categoryName, toolName, apiName } };
}
const HITS: readonly RetrievalHit[] = [
  hit('Communication', 'SMS Gateway', 'Send SMS'),
  hit('Weather', 'Open Weather', 'Current weather'), // only a folder named open_weather.json
  hit('News, Media', 'Daily News', 'From'), // News_Media/daily_news, is_from
  hit('Communication', 'SMS Gateway', 'Send SMS'), // a duplicate: kept
  hit('Data', 'Open Weather', 'x'), // only open_weather.bak.json
  hit('..', 'Data', 'y'), // not a category name: skipped, never a path outside the toolenv
  hit('Data', '3D Models', 'Get 3D model!'), // get_3d_models, get_3d_model
  hit('Data', 'Broken Tool', 'Call'),
];

describe('openDomainApis', () => {
  test('keeps the hits whose tool file exists, by standardized names, duplicates included, until k', () => {
    const expected = [
      { categoryName: 'Communication', toolName: 'sms_gateway', apiName: 'send_sms', score: (HITS[0] as RetrievalHit).score },
      { categoryName: 'News_Media', toolName: 'daily_news', apiName: 'is_from', score: (HITS[2] as RetrievalHit).score },
      { categoryName: 'Communication', toolName: 'sms_gateway', apiName: 'send_sms', score: (HITS[3] as RetrievalHit).score },
      { categoryName: 'Data', toolName: 'get_3d_models', apiName: 'get_3d_model', score: (HITS[6] as RetrievalHit).score },
      { categoryName: 'Data', toolName: 'broken_tool', apiName: 'call', score: (HITS[7] as RetrievalHit).score },
    ];
    assert.deepEqual(openDomainApis(HITS, 10, tools), expected);
    assert.deepEqual(openDomainApis(HITS, 5, tools), expected);
    assert.deepEqual(openDomainApis(HITS, 2, tools), expected.slice(0, 2));
    assert.deepEqual(openDomainApis(HITS, 0, tools), []);
    assert.deepEqual(openDomainApis([], 3, tools), []);
  });

  test('k must be a non-negative integer', () => {
    for (const k of [-1, 1.5, Number.NaN]) assert.throws(() => openDomainApis(HITS, k, tools), { code: 'usage.invalid', exitCode: 2 });
  });
});

describe('retrieveApis', () => {
  test('asks the retriever for 10 × k documents and keeps the first k with a tool file', async () => {
    const calls: [string, number][] = [];
    const retriever = {
      async search(query: string, n: number): Promise<RetrievalHit[]> {
        calls.push([query, n]);
        return HITS.slice(0, n);
      },
    };
    const apis = await retrieveApis(retriever, 'send an SMS', 3, tools);
    assert.deepEqual(calls, [['send an SMS', 30]]);
    assert.deepEqual(apis.map((api) => `${api.categoryName}/${api.toolName}/${api.apiName}`), ['Communication/sms_gateway/send_sms', 'News_Media/daily_news/is_from', 'Communication/sms_gateway/send_sms']);
  });
});

describe('openDomainQuery', () => {
  test('the retrieved APIs replace the query\'s own api_list; a list query retrieves with its first text', async () => {
    const asked: string[] = [];
    const retriever = { search: async (query: string, n: number) => (asked.push(query), HITS.slice(0, n)) };
    const own = { category_name: 'Data', tool_name: 'Broken Tool', api_name: 'Call' };
    const query = parseQuery({ query: ['send an SMS', 'and more'], query_id: 9, api_list: [own] }, 'q.json', 4);
    const chosen = await openDomainQuery(retriever, query, 2, tools);
    assert.deepEqual(asked, ['send an SMS']);
    assert.deepEqual([chosen.queryId, chosen.query], [9, ['send an SMS', 'and more']]);
    assert.deepEqual(chosen.apiList?.map((ref) => ref.raw), [
      { category_name: 'Communication', tool_name: 'sms_gateway', api_name: 'send_sms' },
      { category_name: 'News_Media', tool_name: 'daily_news', api_name: 'is_from' },
    ]);
    assert.equal(chosen.apiList?.[1]?.path, '$[4].api_list[1] (retrieved)');
  });
});
