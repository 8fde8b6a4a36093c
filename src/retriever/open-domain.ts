/**
 * Open-domain API choice (spec algorithms.md §12 steps 2–3; upstream `ToolRetriever.retrieving`
 * and `rapidapi_wrapper.retrieve_rapidapi_tools`): the top `10 × k` hits, standardized, kept
 * while their tool file exists, until `k` are kept. Duplicates are kept, as upstream.
 */
import { basename } from 'node:path';
import { standardize, standardizeCategory, pureApiName } from '../registry/names.js';
import type { Query, QueryApiRef } from '../registry/query-file.js';
import type { ToolEnvironment } from '../registry/tool-environment.js';
import { usageError } from '../util/errors.js';
import type { DenseRetriever, RetrievalHit } from './dense-retriever.js';

/** Upstream asks the retriever for ten times the APIs it keeps. */
const HITS_PER_API = 10;

/** A retrieved API, by standardized names (those of the tool files). */
export interface RetrievedApi {
  readonly categoryName: string;
  readonly toolName: string;
  readonly apiName: string;
  readonly score: number;
}

/** Upstream's open-domain choice: the first k of the hits (best first) whose tool file exists. */
export function openDomainApis(hits: readonly RetrievalHit[], k: number, tools: ToolEnvironment): RetrievedApi[] {
  checkCount(k);
  const apis: RetrievedApi[] = [];
  for (const hit of hits) {
    if (apis.length >= k) break;
    const categoryName = standardizeCategory(hit.api.categoryName);
    const toolName = standardize(hit.api.toolName);
    if (!toolFileExists(tools, categoryName, toolName)) continue;
    apis.push({ categoryName, toolName, apiName: pureApiName(hit.api.apiName), score: hit.score });
  }
  return apis;
}

/** Retrieves `10 × k` documents for `query` and keeps the first `k` whose tool file exists. */
export async function retrieveApis(retriever: Pick<DenseRetriever, 'search'>, query: string, k: number, tools: ToolEnvironment): Promise<RetrievedApi[]> {
  checkCount(k);
  return openDomainApis(await retriever.search(query, HITS_PER_API * k), k, tools);
}

/**
 * Whether `<category>/<tool>.json` is a file of the environment. Upstream only tests that the
 * path exists (`os.path.exists`), so the file is not parsed here: a malformed one fails later,
 * where its APIs are read.
 */
function toolFileExists(tools: ToolEnvironment, category: string, tool: string): boolean {
  const name = `${tool}.json`;
  return tools.toolFiles(category).some((location) => basename(location.file) === name);
}

/**
 * The query with the APIs the retriever chose as its `api_list` (what it retrieves with is the
 * query, or the first of a list). Upstream ignores any `api_list` the query carries once the
 * retriever is on; so does this.
 */
export async function openDomainQuery(retriever: Pick<DenseRetriever, 'search'>, query: Query, k: number, tools: ToolEnvironment): Promise<Query> {
  const text = typeof query.query === 'string' ? query.query : (query.query[0] ?? '');
  const apis = await retrieveApis(retriever, text, k, tools);
  const apiList: QueryApiRef[] = apis.map((api, index) => ({
    categoryName: api.categoryName,
    toolName: api.toolName,
    apiName: api.apiName,
    apiDescription: undefined,
    requiredParameters: undefined,
    optionalParameters: undefined,
    file: query.file,
    path: `${query.path}.api_list[${index}] (retrieved)`,
    raw: { category_name: api.categoryName, tool_name: api.toolName, api_name: api.apiName },
  }));
  return { ...query, apiList };
}

function checkCount(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw usageError(`${k} APIs to retrieve: expected a non-negative integer`);
}
