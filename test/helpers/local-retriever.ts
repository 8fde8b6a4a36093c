/** A retriever over the local tool fixture (fixtures/toolenv-local), for open-domain tests. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pyCsvRow } from '../../src/util/py-csv.js';
import { pyJsonDumps } from '../../src/util/pyjson.js';
import { writeTinyBert } from './tiny-checkpoint.js';

/**
 * A retriever for the local tools: a tiny random BERT and a corpus whose only API with a tool
 * file is hello world (the others name tools the folder lacks), so whatever the random model
 * ranks first, open domain must choose hello world and nothing else.
 */
export function writeLocalRetriever(dir: string): { model: string; corpus: string } {
  const model = join(dir, 'retriever-model');
  writeTinyBert(model);
  const apis = [
    { category_name: 'Customized', tool_name: 'Nowhere Tool', api_name: 'Absent', api_description: 'not in the tool folder' },
    { category_name: 'Customized', tool_name: 'hello world', api_name: 'get_hello_world', api_description: "To get 'hello world'." },
    { category_name: 'Sports', tool_name: 'Gone Scores', api_name: 'Scores', api_description: 'not in the tool folder either' },
  ];
  const rows = apis.map((api, index) => pyCsvRow([index + 1, pyJsonDumps({ ...api, required_parameters: [], optional_parameters: [], method: 'GET' })], '\t', '\n'));
  const corpus = join(dir, 'corpus.tsv');
  writeFileSync(corpus, `docid\tdocument_content\n${rows.join('')}`);
  return { model, corpus };
}

