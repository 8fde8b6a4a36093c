/**
 * A second process writing to a response cache, for the concurrency tests of response-cache.test.ts
 * (not a test itself: the name does not end in `.test.ts`).
 *
 * Usage: node --import tsx cache-writer.fixture.ts <root> <prefix> <count> <api,api,...>
 * Prints `ready`, waits for a line on stdin (so that every writer starts at once), then stores
 * `count` keys `{'w': '<prefix>-<i>'}` into every API, one store at a time, and prints `done`.
 */
import { once } from 'node:events';
import { ResponseCache } from '../../src/env/response-cache.js';

const [root, prefix, countText, apiList] = process.argv.slice(2);
if (root === undefined || prefix === undefined || countText === undefined || apiList === undefined) {
  process.stderr.write('usage: cache-writer.fixture.ts <root> <prefix> <count> <apis>\n');
  process.exit(2);
}
const cache = new ResponseCache(root, { warn: (message) => process.stderr.write(`${message}\n`) });
const apis = apiList.split(',');

process.stdout.write('ready\n');
await once(process.stdin, 'data');
process.stdin.pause();

for (let index = 0; index < Number(countText); index++) {
  for (const api of apis) {
    const key = `{'w': '${prefix}-${index}'}`;
    const added = await cache.store({ category: 'Data', toolDir: 'quotes_for_Data', api }, key, { error: '', response: `${prefix} ${index} ${api}` });
    await cache.settled(); // a store right after another one resolved is lost otherwise (see response-cache.test.ts)
    if (!added) throw new Error(`${key} was already stored in ${api}`);
  }
}
await cache.settled();
process.stdout.write('done\n');
