import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTaskDescription, toolDescriptionText } from '../../src/registry/task-description.js';
import { TASK_DESCRIPTION_PREFIX } from '../../src/protocol/prompts.js';

describe('tool description texts', () => {
  test('cut to 512 characters, newlines removed, then stripped; None when empty or null', () => {
    assert.equal(toolDescriptionText('  Quotes.\nLove quotes.  '), 'Quotes.Love quotes.');
    assert.equal(toolDescriptionText(`${'a'.repeat(510)}\nbc`), `${'a'.repeat(510)}b`);
    assert.equal(toolDescriptionText(' \n '), 'None');
    assert.equal(toolDescriptionText(null), 'None');
  });

  test('one numbered line per distinct tool; a later description for the same tool wins', () => {
    const text = buildTaskDescription([
      { standardName: 'transitaires', description: 'Transitaires de dédouanement en Nouvelle-Calédonie' },
      { standardName: 'olato_quotes', description: 'first' },
      { standardName: 'transitaires', description: 'replaced' },
    ]);
    assert.equal(text, `${TASK_DESCRIPTION_PREFIX}1.transitaires: replaced\n2.olato_quotes: first\n`);
  });
});
