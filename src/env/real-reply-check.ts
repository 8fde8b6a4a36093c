/**
 * `check_result` of StableToolBench's virtual server (spec formats.md §13.1): whether a reply
 * from a real call is good enough to return and cache, or whether the simulator answers instead.
 * The tests run on the lower-cased text, as upstream's do (its `API doesn't exists` test has a
 * capital letter and can never match, so it is left out).
 */
import { isPyObject, type PyValue } from '../util/py-value.js';
import { pyStr } from '../util/pyrepr.js';

const ACCEPT_ANYWAY = ['got an unexpected keyword argument'];
const SERVER_TROUBLE = ['rate limit', 'time out', 'timed out', 'does not exist', '404', '504', '500', 'internal error'];
const ACCESS_TROUBLE = [
  'authoriz',
  'authenticat',
  'unauthorized',
  'blocked user',
  'unsubscribe',
  'blocked',
  '401',
  '403',
  'credential',
  'unauthenticated',
  'disabled for your subscription',
  'invalid consumer key',
];
const INPUT_TROUBLE = ['parameter', 'parse', 'is not defined'];

export function isUsableRealReply(reply: PyValue): boolean {
  if (!isPyObject(reply)) return false;
  if (!('error' in reply) || isTruthy(reply.error) || !('response' in reply)) return false;
  const text = pyStr(reply.response);
  const lower = text.toLowerCase();
  const mentions = (words: readonly string[]) => words.some((word) => lower.includes(word));
  if (mentions(ACCEPT_ANYWAY)) return true;
  if (mentions(SERVER_TROUBLE) || text.includes('Service Not Found')) return false;
  if (mentions(ACCESS_TROUBLE) || text.includes('ACCESS_DENIED')) return false;
  if (mentions(INPUT_TROUBLE)) return false;
  if (text === '') return false;
  if (text.includes('status_code=50') || text.includes('status_code=429')) return false;
  return true;
}

/** Python truthiness of a JSON value. */
function isTruthy(value: PyValue | undefined): boolean {
  if (value === null || value === undefined || value === false || value === '' || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPyObject(value)) return Object.keys(value).length > 0;
  return true;
}
