/**
 * The upstream status codes (spec algorithms.md §5.3): the only place their numbers appear.
 * The search reads them: 1 renames the call, 3 ends a branch with an answer, 4 prunes it.
 */
export const TOOL_STATUS = Object.freeze({
  ok: 0,
  noSuchFunction: 1,
  badFinishInput: 2,
  finalAnswer: 3,
  giveUp: 4,
  timeout: 5,
  apiNotWorking: 6,
  unauthorized: 7,
  unsubscribed: 8,
  tooManyRequests: 9,
  rateLimitPerMinute: 10,
  messageError: 11,
  requestFailed: 12,
} as const);

export type ToolStatus = (typeof TOOL_STATUS)[keyof typeof TOOL_STATUS];

// The exact `error` strings a tool server sends, and the status the client gives each
// (formats.md §12.2; quirk 13: 7 and 8 are swapped against upstream's docstring, kept as coded).
const STATUS_BY_SERVER_ERROR: ReadonlyMap<string, ToolStatus> = new Map([
  ['API not working error...', TOOL_STATUS.apiNotWorking],
  ['Unauthorized error...', TOOL_STATUS.unauthorized],
  ['Unsubscribed error...', TOOL_STATUS.unsubscribed],
  ['Too many requests error...', TOOL_STATUS.tooManyRequests],
  ['Rate limit per minute error...', TOOL_STATUS.rateLimitPerMinute],
  ['Message error...', TOOL_STATUS.messageError],
]);

/**
 * The status of a server reply: looked up by its exact `error` text; anything else, including
 * `""` and a reply without `error` (upstream crashes there), is 0.
 */
export function statusOfReply(reply: unknown): ToolStatus {
  if (typeof reply !== 'object' || reply === null || Array.isArray(reply)) return TOOL_STATUS.ok;
  const error = (reply as { error?: unknown }).error;
  return typeof error === 'string' ? (STATUS_BY_SERVER_ERROR.get(error) ?? TOOL_STATUS.ok) : TOOL_STATUS.ok;
}

export function isToolStatus(value: unknown): value is ToolStatus {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 12;
}
