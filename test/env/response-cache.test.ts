import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ResponseCache, cacheKey, type CacheLocation } from '../../src/env/response-cache.js';
import { withFileLock } from '../../src/util/file-lock.js';
import { ToolbenchError } from '../../src/util/errors.js';
import { pyJsonParse } from '../../src/util/pyjson-parse.js';
import { orderedKeys, type PyObject, type PyValue } from '../../src/util/py-value.js';
import { PROJECT_ROOT } from '../helpers/paths.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-cache-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let folders = 0;
/** A fresh, not yet existing cache root for one test. */
function freshRoot(): string {
  return join(scratch, `root-${++folders}`);
}

const QUOTES: CacheLocation = { category: 'Data', toolDir: 'quotes_for_Data', api: 'love_quote' };

/** A cache root whose tool folders exist already. */
function preparedRoot(locations: readonly CacheLocation[] = [QUOTES]): string {
  const root = freshRoot();
  for (const location of locations) mkdirSync(join(root, location.category, location.toolDir), { recursive: true });
  return root;
}

function fileOf(root: string, location: CacheLocation = QUOTES): string {
  return join(root, location.category, location.toolDir, `${location.api}.json`);
}

function writeCacheFile(root: string, text: string, location: CacheLocation = QUOTES): string {
  const file = fileOf(root, location);
  mkdirSync(join(root, location.category, location.toolDir), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** `store` then `settled`: the entry is on disk when this resolves. */
async function storeAndSettle(cache: ResponseCache, location: CacheLocation, key: string, reply: PyValue): Promise<boolean> {
  const added = await cache.store(location, key, reply);
  await cache.settled();
  return added;
}

function keysOnDisk(file: string): readonly string[] {
  return orderedKeys(pyJsonParse(readFileSync(file, 'utf8')) as PyObject);
}

function collectWarnings(): { warn: (message: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (message) => void warnings.push(message) };
}

describe('response cache keys', () => {
  test('the key is Python str() of the parsed input, in the order of the arguments', () => {
    assert.equal(cacheKey(pyJsonParse('{"symbol": "GOOG", "limit": 5}')), "{'symbol': 'GOOG', 'limit': 5}");
    assert.equal(cacheKey(pyJsonParse('{"limit": 5, "symbol": "GOOG"}')), "{'limit': 5, 'symbol': 'GOOG'}");
    assert.equal(cacheKey({}), '{}');
    assert.equal(cacheKey(pyJsonParse('{"f": 1.0, "b": true, "n": null, "s": "it\'s"}')), `{'f': 1.0, 'b': True, 'n': None, 's': "it's"}`);
  });
});

describe('response cache files', () => {
  test('an API lives in <root>/<Category>/<tool>_for_<Category>/<api>.json', () => {
    const root = freshRoot();
    assert.equal(new ResponseCache(root).fileOf(QUOTES), join(root, 'Data', 'quotes_for_Data', 'love_quote.json'));
  });

  test('stored entries are written as json.dumps(indent=4) with non-ASCII escaped and no trailing newline', async () => {
    const root = preparedRoot();
    const cache = new ResponseCache(root);
    assert.equal(await storeAndSettle(cache, QUOTES, "{'symbol': 'GOOG', 'limit': 5}", { error: '', response: "{'price': 12}" }), true);
    assert.equal(await cache.store(QUOTES, '{}', { error: '', response: 'café' }), true);
    assert.equal(
      readFileSync(fileOf(root), 'utf8'),
      [
        '{',
        `    "{'symbol': 'GOOG', 'limit': 5}": {`,
        '        "error": "",',
        `        "response": "{'price': 12}"`,
        '    },',
        '    "{}": {',
        '        "error": "",',
        '        "response": "caf\\u00e9"',
        '    }',
        '}',
      ].join('\n'),
    );
  });

  test(
    'a store into a cache whose category and tool folders do not exist yet creates them',
    async () => {
      const root = freshRoot();
      const cache = new ResponseCache(root);
      assert.equal(await cache.store(QUOTES, '{}', { error: '', response: 'x' }), true);
      assert.deepEqual(pyJsonParse(readFileSync(fileOf(root), 'utf8')), { '{}': { error: '', response: 'x' } });
    },
  );

  test('a file in the published format is read: hits return the stored reply, misses undefined', async () => {
    const root = freshRoot();
    writeCacheFile(root, `{\n    "{'symbol': 'GOOG'}": {"error": "", "response": "{'symbol': 'GOOG', 'shortInterest': 123}"},\n    "{}": {"error": "", "response": "all"}\n}`);
    const cache = new ResponseCache(root);
    assert.deepEqual(await cache.lookup(QUOTES, "{'symbol': 'GOOG'}"), { error: '', response: "{'symbol': 'GOOG', 'shortInterest': 123}" });
    assert.deepEqual(await cache.lookup(QUOTES, '{}'), { error: '', response: 'all' });
    assert.equal(await cache.lookup(QUOTES, "{'symbol': 'MSFT'}"), undefined);
    assert.equal(await cache.lookup({ ...QUOTES, api: 'other_api' }, '{}'), undefined);
  });

  test('a lookup in a cache folder that does not exist is a miss and creates nothing', async () => {
    const root = freshRoot();
    assert.equal(await new ResponseCache(root).lookup(QUOTES, '{}'), undefined);
    assert.deepEqual(await new ResponseCache(root).entries(QUOTES), []);
    assert.equal(existsSync(root), false);
  });

  test('entries() lists the file in file order, index-like keys included', async () => {
    const root = freshRoot();
    writeCacheFile(root, '{"{\'b\': 1}": {"error": "", "response": "b"}, "10": {"error": "", "response": "ten"}, "{}": 1, "2": [2]}');
    const cache = new ResponseCache(root);
    assert.deepEqual(await cache.entries(QUOTES), [
      ["{'b': 1}", { error: '', response: 'b' }],
      ['10', { error: '', response: 'ten' }],
      ['{}', 1],
      ['2', [2]],
    ]);
  });

  test('a new entry is appended after the existing ones, whose order is kept on disk', async () => {
    const root = freshRoot();
    const file = writeCacheFile(root, '{"{\'b\': 1}": "b", "10": "ten", "2": "two"}');
    const cache = new ResponseCache(root);
    assert.equal(await cache.store(QUOTES, "{'a': 0}", 'a'), true);
    assert.deepEqual(keysOnDisk(file), ["{'b': 1}", '10', '2', "{'a': 0}"]);
    assert.deepEqual(
      (await cache.entries(QUOTES)).map(([key]) => key),
      ["{'b': 1}", '10', '2', "{'a': 0}"],
    );
  });

  test('the first write wins: storing a stored key resolves false and leaves the file as it was', async () => {
    const root = preparedRoot();
    const cache = new ResponseCache(root);
    assert.equal(await storeAndSettle(cache, QUOTES, '{}', { error: '', response: 'first' }), true);
    const before = readFileSync(fileOf(root), 'utf8');
    assert.equal(await cache.store(QUOTES, '{}', { error: '', response: 'second' }), false);
    assert.equal(readFileSync(fileOf(root), 'utf8'), before);
    assert.deepEqual(await cache.lookup(QUOTES, '{}'), { error: '', response: 'first' });
    assert.deepEqual(await new ResponseCache(root).lookup(QUOTES, '{}'), { error: '', response: 'first' });
  });

  test(
    'a store made as soon as the previous store to the same file resolved is written too',
    async () => {
      const root = preparedRoot();
      const cache = new ResponseCache(root);
      const second = (async () => {
        assert.equal(await cache.store(QUOTES, "{'n': 1}", 'one'), true);
        return cache.store(QUOTES, "{'n': 2}", 'two');
      })();
      const outcome = await settledWithin(second, 2_000);
      assert.equal(outcome, true);
      assert.deepEqual(keysOnDisk(fileOf(root)), ["{'n': 1}", "{'n': 2}"]);
    },
  );

  test('the first write wins across writers: a key another writer stored is not replaced', async () => {
    const root = freshRoot();
    const cache = new ResponseCache(root);
    assert.equal(await cache.lookup(QUOTES, '{}'), undefined);
    const file = writeCacheFile(root, '{"{}": "theirs"}');
    assert.equal(await cache.store(QUOTES, '{}', 'ours'), false);
    assert.equal(readFileSync(file, 'utf8'), '{"{}": "theirs"}');
  });

  test('a file changed by another writer is re-read for a key missing in memory', async () => {
    const root = freshRoot();
    const file = writeCacheFile(root, '{"{\'n\': 0}": "zero"}');
    const cache = new ResponseCache(root);
    assert.equal(await cache.lookup(QUOTES, "{'n': 1}"), undefined);
    writeFileSync(file, '{"{\'n\': 0}": "zero", "{\'n\': 1}": "one, written elsewhere"}');
    assert.equal(await cache.lookup(QUOTES, "{'n': 1}"), 'one, written elsewhere');
    assert.deepEqual(
      (await cache.entries(QUOTES)).map(([key]) => key),
      ["{'n': 0}", "{'n': 1}"],
    );
  });

  test('a write keeps entries another writer added since this cache last read the file', async () => {
    const root = preparedRoot();
    const cache = new ResponseCache(root);
    assert.equal(await storeAndSettle(cache, QUOTES, "{'n': 0}", 'zero'), true);
    const file = fileOf(root);
    writeFileSync(file, '{"{\'n\': 0}": "zero", "{\'n\': 1}": "one"}');
    assert.equal(await cache.store(QUOTES, "{'n': 2}", 'two'), true);
    assert.deepEqual(keysOnDisk(file), ["{'n': 0}", "{'n': 1}", "{'n': 2}"]);
  });

  test('a corrupt file reads as empty, with one warning', async () => {
    const root = freshRoot();
    writeCacheFile(root, '{"{}": "cut off');
    const { warn, warnings } = collectWarnings();
    const cache = new ResponseCache(root, { warn });
    assert.equal(await cache.lookup(QUOTES, '{}'), undefined);
    assert.equal(await cache.lookup(QUOTES, "{'a': 1}"), undefined);
    assert.deepEqual(await cache.entries(QUOTES), []);
    assert.equal(warnings.length, 1);
  });

  test('a file that is JSON but not an object is corrupt too', async () => {
    const root = freshRoot();
    writeCacheFile(root, '[{"{}": 1}]');
    const { warn, warnings } = collectWarnings();
    assert.equal(await new ResponseCache(root, { warn }).lookup(QUOTES, '{}'), undefined);
    assert.equal(warnings.length, 1);
  });

  test('a store moves a corrupt file aside to <file>.corrupt-* with its content, then writes a new one', async () => {
    const root = freshRoot();
    const corrupt = '{"{}": "cut off';
    const file = writeCacheFile(root, corrupt);
    const { warn, warnings } = collectWarnings();
    const cache = new ResponseCache(root, { warn });
    assert.equal(await cache.lookup(QUOTES, '{}'), undefined);
    assert.equal(await cache.store(QUOTES, '{}', 'fresh'), true);
    const folder = join(root, 'Data', 'quotes_for_Data');
    const aside = readdirSync(folder).filter((name) => name.startsWith('love_quote.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.equal(readFileSync(join(folder, aside[0] as string), 'utf8'), corrupt);
    assert.deepEqual(pyJsonParse(readFileSync(file, 'utf8')), { '{}': 'fresh' });
    assert.equal(warnings.length, 2);
    assert.deepEqual(readdirSync(folder).sort(), ['love_quote.json', aside[0]].sort());
  });

  test('a store into a corrupt file it never looked up also preserves the old content', async () => {
    const root = freshRoot();
    writeCacheFile(root, 'garbage');
    const { warn } = collectWarnings();
    assert.equal(await new ResponseCache(root, { warn }).store(QUOTES, '{}', 'fresh'), true);
    const folder = join(root, 'Data', 'quotes_for_Data');
    const aside = readdirSync(folder).filter((name) => name.includes('.corrupt-'));
    assert.deepEqual(aside.map((name) => readFileSync(join(folder, name), 'utf8')), ['garbage']);
  });

  const unsafe: readonly (readonly [string, CacheLocation])[] = [
    ['category ..', { ...QUOTES, category: '..' }],
    ['category .', { ...QUOTES, category: '.' }],
    ['empty category', { ...QUOTES, category: '' }],
    ['tool folder a/b', { ...QUOTES, toolDir: 'a/b' }],
    ['tool folder ..', { ...QUOTES, toolDir: '..' }],
    ['tool folder with a backslash', { ...QUOTES, toolDir: 'a\\b' }],
    ['api ../x', { ...QUOTES, api: '../x' }],
    ['api with NUL', { ...QUOTES, api: 'love\0quote' }],
  ];
  for (const [name, location] of unsafe) {
    test(`an unsafe location (${name}) throws and creates nothing`, async () => {
      const root = freshRoot();
      const cache = new ResponseCache(root);
      assert.throws(() => cache.fileOf(location), RangeError);
      await assert.rejects(async () => cache.lookup(location, '{}'), RangeError);
      await assert.rejects(async () => cache.entries(location), RangeError);
      await assert.rejects(async () => cache.store(location, '{}', 'x'), RangeError);
      await cache.settled();
      assert.equal(existsSync(root), false);
      assert.equal(existsSync(join(root, '..', 'x.json')), false);
    });
  }
});

describe('response cache concurrency', () => {
  test('200 concurrent stores of distinct keys in one process all reach the disk, in call order', async () => {
    const root = preparedRoot();
    const cache = new ResponseCache(root);
    const keys = Array.from({ length: 200 }, (_, index) => `{'i': ${index}}`);
    const outcomes = await Promise.all(keys.map((key, index) => cache.store(QUOTES, key, { error: '', response: `r${index}` })));
    assert.deepEqual(outcomes, keys.map(() => true));
    assert.deepEqual(keysOnDisk(fileOf(root)), keys);
    assert.deepEqual(readdirSync(join(root, 'Data', 'quotes_for_Data')), ['love_quote.json']);
  });

  test('concurrent stores of one key in one process: exactly one wins', async () => {
    const root = preparedRoot();
    const cache = new ResponseCache(root);
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, index) => cache.store(QUOTES, '{}', `reply ${index}`)));
    assert.equal(outcomes.filter(Boolean).length, 1);
    assert.equal(outcomes[0], true);
    assert.deepEqual(pyJsonParse(readFileSync(fileOf(root), 'utf8')), { '{}': 'reply 0' });
  });

  test('settled() resolves once every store has reached the disk', async () => {
    const root = preparedRoot([0, 1, 2].map((api) => ({ ...QUOTES, api: `api_${api}` })));
    const cache = new ResponseCache(root);
    for (let index = 0; index < 30; index++) void cache.store({ ...QUOTES, api: `api_${index % 3}` }, `{'i': ${index}}`, index);
    await cache.settled();
    for (let api = 0; api < 3; api++) assert.equal(keysOnDisk(fileOf(root, { ...QUOTES, api: `api_${api}` })).length, 10);
  });

  test('child processes and in-process writers storing into the same files at once lose no entry and write none twice', { timeout: 120_000 }, async () => {
    const root = preparedRoot();
    const apis = ['quote_a', 'quote_b', 'quote_c'];
    const count = 50;
    const children = ['p1', 'p2', 'p3', 'p4'].map((prefix) => startWriter(root, prefix, count, apis));
    await Promise.all(children.map((child) => child.ready));

    for (const child of children) child.go();
    // In this process: one cache firing all its stores at once, another storing one at a time.
    const burst = new ResponseCache(root);
    const bursts = apis.flatMap((api) =>
      Array.from({ length: count }, (_, index) => burst.store({ ...QUOTES, api }, `{'w': 'm1-${index}'}`, { error: '', response: 'm1' })),
    );
    const sequential = (async () => {
      const cache = new ResponseCache(root);
      for (let index = 0; index < count; index++) {
        for (const api of apis) assert.equal(await storeAndSettle(cache, { ...QUOTES, api }, `{'w': 'm2-${index}'}`, { error: '', response: 'm2' }), true);
      }
    })();
    assert.deepEqual(await Promise.all(bursts), bursts.map(() => true));
    await sequential;
    for (const child of children) assert.equal(await child.exit, 0, `writer ${child.prefix}: ${child.stderr()}`);

    const writers = ['p1', 'p2', 'p3', 'p4', 'm1', 'm2'];
    for (const api of apis) {
      const file = fileOf(root, { ...QUOTES, api });
      const text = readFileSync(file, 'utf8');
      const keys = keysOnDisk(file);
      assert.equal(keys.length, writers.length * count, api);
      for (const writer of writers) {
        for (let index = 0; index < count; index++) {
          const quotedKey = `"{'w': '${writer}-${index}'}": `;
          assert.equal(text.split(quotedKey).length - 1, 1, `${api}: ${quotedKey}`);
        }
      }
    }
    const leftovers = readdirSync(join(root, 'Data', 'quotes_for_Data')).filter((name) => !name.endsWith('.json'));
    assert.deepEqual(leftovers, []);
  });

  test('a stale lock file (older than the stale limit) is broken and the store goes ahead', async () => {
    const root = freshRoot();
    const file = writeCacheFile(root, '{}');
    const lock = `${file}.lock`;
    writeFileSync(lock, '999999\n');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, hourAgo, hourAgo);
    assert.equal(await new ResponseCache(root).store(QUOTES, '{}', 'after the crash'), true);
    assert.deepEqual(pyJsonParse(readFileSync(file, 'utf8')), { '{}': 'after the crash' });
    assert.equal(existsSync(lock), false);
  });

  test('a fresh lock file held by another writer makes a store wait until it is released', async () => {
    const root = freshRoot();
    const file = writeCacheFile(root, '{}');
    const lock = `${file}.lock`;
    writeFileSync(lock, '999999\n');
    let settled = false;
    const store = new ResponseCache(root).store(QUOTES, '{}', 'later').then((added) => ((settled = true), added));
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.equal(settled, false);
    assert.equal(readFileSync(file, 'utf8'), '{}');
    rmSync(lock);
    assert.equal(await store, true);
    assert.deepEqual(pyJsonParse(readFileSync(file, 'utf8')), { '{}': 'later' });
  });
});

describe('file lock', () => {
  test('a lock that stays held past the timeout fails with lock.timeout and does not run the work', async () => {
    const file = join(mkdtempSync(join(scratch, 'lock-')), 'x.json');
    writeFileSync(`${file}.lock`, '1\n');
    let ran = false;
    await assert.rejects(
      withFileLock(file, async () => void (ran = true), { timeoutMs: 100 }),
      (error) => error instanceof ToolbenchError && error.code === 'lock.timeout' && error.exitCode === 1,
    );
    assert.equal(ran, false);
    assert.equal(existsSync(`${file}.lock`), true);
  });

  test('the stale limit is configurable', async () => {
    const file = join(mkdtempSync(join(scratch, 'lock-')), 'x.json');
    writeFileSync(`${file}.lock`, '1\n');
    const past = new Date(Date.now() - 5_000);
    utimesSync(`${file}.lock`, past, past);
    assert.equal(await withFileLock(file, async () => 'ran', { staleMs: 1_000, timeoutMs: 2_000 }), 'ran');
  });

  test('the lock is released when the work throws, and work runs one at a time', async () => {
    const file = join(mkdtempSync(join(scratch, 'lock-')), 'x.json');
    await assert.rejects(withFileLock(file, async () => Promise.reject(new Error('work failed'))), /work failed/);
    assert.equal(existsSync(`${file}.lock`), false);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(file, async () => {
          most = Math.max(most, ++inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1);
  });
});

interface Writer {
  readonly prefix: string;
  readonly ready: Promise<void>;
  readonly exit: Promise<number | null>;
  go(): void;
  stderr(): string;
}

/** Starts test/env/cache-writer.fixture.ts in its own process; it stores once told to go. */
function startWriter(root: string, prefix: string, count: number, apis: readonly string[]): Writer {
  const script = join(PROJECT_ROOT, 'test', 'env', 'cache-writer.fixture.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, root, prefix, String(count), apis.join(',')], {
    cwd: PROJECT_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (stdout.startsWith('ready\n')) resolve();
    });
    void exit.then((code) => reject(new Error(`writer ${prefix} exited with ${code} before it was ready: ${stderr}`)));
  });
  return {
    prefix,
    ready,
    exit,
    go: () => child.stdin.end('go\n'),
    stderr: () => stderr,
  };
}

/** The promise's value, or `'still pending'` when it has not settled in time (a lost write never settles). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | 'still pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'still pending'>((resolve) => (timer = setTimeout(() => resolve('still pending'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
