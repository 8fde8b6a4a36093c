import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runToolbench } from '../helpers/cli.js';

const scratch = mkdtempSync(join(tmpdir(), 'toolbench-cache-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let roots = 0;

/** A cache folder from `{ "Cat/tool_for_Cat/api": fileText }`. */
function cacheWith(files: Record<string, string>): string {
  const root = join(scratch, `cache-${++roots}`);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, `${path}.json`), text);
  }
  return root;
}

const entry = (response: string) => ({ error: '', response });
const fileText = (entries: Record<string, unknown>) => JSON.stringify(entries, null, 4);

describe('toolbench cache', () => {
  test('stats counts categories, tools, APIs and entries (--json)', async () => {
    const root = cacheWith({
      'Data/quotes_for_Data/love_quote': fileText({ '{}': entry('a'), "{'n': 1}": entry('b') }),
      'Data/quotes_for_Data/random_quote': fileText({ '{}': entry('c') }),
      'Sports/scores_for_Sports/live': fileText({ '{}': entry('d') }),
    });
    const result = await runToolbench(['cache', 'stats', root, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const stats = JSON.parse(result.stdout);
    assert.deepEqual({ ...stats, bytes: undefined }, { categories: 2, tools: 2, apis: 3, entries: 4, bytes: undefined, unreadable_files: 0, stray_files: 0 });
  });

  test('verify passes a good cache and fails (exit 2) on a corrupt file or a non-object entry', async () => {
    const good = cacheWith({ 'Data/quotes_for_Data/love_quote': fileText({ '{}': entry('a') }) });
    assert.equal((await runToolbench(['cache', 'verify', good])).code, 0);
    const bad = cacheWith({
      'Data/quotes_for_Data/love_quote': '{"{}": {"error": "", "resp',
      'Data/quotes_for_Data/other': fileText({ '{}': 'not a reply' }),
      'Data/quotes_for_Data/fine': fileText({ '{}': entry('a') }),
    });
    const result = await runToolbench(['cache', 'verify', bad, '--json']);
    assert.equal(result.code, 2);
    const report = JSON.parse(result.stdout);
    assert.equal(report.files, 3);
    assert.deepEqual(report.problems.map((problem: { file: string }) => problem.file.split('/').pop()).sort(), ['love_quote.json', 'other.json']);
  });

  test('import merges: new entries added, existing ones kept, conflicts counted, bad files skipped (exit 3)', async () => {
    const target = cacheWith({ 'Data/quotes_for_Data/love_quote': fileText({ '{}': entry('kept'), "{'n': 1}": entry('same') }) });
    const source = cacheWith({
      'Data/quotes_for_Data/love_quote': fileText({ '{}': entry('other'), "{'n': 1}": entry('same'), "{'n': 2}": entry('new') }),
      'Sports/scores_for_Sports/live': fileText({ '{}': entry('fresh') }),
      'Sports/scores_for_Sports/broken': '{',
    });
    const result = await runToolbench(['cache', 'import', source, '--cache', target, '--json']);
    assert.equal(result.code, 3, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), { files: 2, added: 2, existing: 1, conflicts: 1, skipped_files: 1 });
    const merged = JSON.parse(readFileSync(join(target, 'Data/quotes_for_Data/love_quote.json'), 'utf8'));
    assert.deepEqual(Object.keys(merged), ['{}', "{'n': 1}", "{'n': 2}"]);
    assert.equal(merged['{}'].response, 'kept');
    assert.deepEqual(readdirSync(join(target, 'Sports/scores_for_Sports')), ['live.json']);
  });
});
