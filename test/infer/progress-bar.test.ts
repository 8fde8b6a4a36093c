import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatProgressLine, startProgressBar, type ProgressCounts } from '../../src/infer/progress-bar.js';

const counts: ProgressCounts = { finished: 12, total: 200, win: 8, giveUp: 3, failed: 1, skipped: 0, llmCalls: 143, tokens: 1_234_567, cost: 0.42 };
const bar = '=====---------------';

describe('the progress line', () => {
  test('bar, done of total, outcomes, spending and ETA; zero counts other than pass are left out', () => {
    assert.equal(formatProgressLine(counts, { width: 200, bar, etaSeconds: 192 }), `${bar} 12/200 | pass 8 give-up 3 failed 1 | 143 calls 1.2M tok $0.4200 | ETA 3m12s`);
    assert.equal(formatProgressLine({ ...counts, giveUp: 0, failed: 0, skipped: 4 }, { width: 200, bar }), `${bar} 12/200 | pass 8 resumed 4 | 143 calls 1.2M tok $0.4200`);
  });

  test('without a known total there is no bar; a narrow terminal drops the bar, then the ETA', () => {
    assert.equal(formatProgressLine({ ...counts, total: undefined }, { width: 200, bar }), '12 queries | pass 8 give-up 3 failed 1 | 143 calls 1.2M tok $0.4200');
    assert.equal(formatProgressLine(counts, { width: 80, bar, etaSeconds: 192 }), '12/200 | pass 8 give-up 3 failed 1 | 143 calls 1.2M tok $0.4200 | ETA 3m12s');
    assert.equal(formatProgressLine(counts, { width: 60, bar, etaSeconds: 192 }), '12/200 | pass 8 give-up 3 failed 1 | 143 calls 1.2M tok $0.4200');
  });

  test('a message logged just before the bar stops is still shown (the Ctrl-C warning)', () => {
    let written = '';
    const stream = { isTTY: true, columns: 100, write: (text: string) => ((written += text), true) } as unknown as NodeJS.WritableStream;
    const progress = startProgressBar(stream, 3);
    progress.log('warning: SIGINT: stopping the queries in flight');
    progress.stop();
    progress.stop();
    assert.match(written, /warning: SIGINT: stopping the queries in flight\n/);
  });
});
