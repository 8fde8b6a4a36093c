/** JSON paths in messages: `$`, `$.api_list[3].name`, `$[0]["relevant APIs"]`. */
export type JsonPathSegment = string | number;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Appends one segment to a formatted path. */
export function childPath(path: string, segment: JsonPathSegment): string {
  if (typeof segment === 'number') return `${path}[${segment}]`;
  return IDENTIFIER.test(segment) ? `${path}.${segment}` : `${path}[${JSON.stringify(segment)}]`;
}
