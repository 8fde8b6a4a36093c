/**
 * Open domain (algorithms.md §12): a query whose `api_list` is what the retriever chose. Upstream
 * ignores any `api_list` the query carries once the retriever is on; so does this.
 */
import type { Query, QueryApiRef } from '../registry/query-file.js';
import type { RetrievedApi } from '../retriever/open-domain.js';

export function withRetrievedApis(query: Query, apis: readonly RetrievedApi[]): Query {
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
