/**
 * The retrieval corpus: `corpus.tsv` (spec formats.md §8) read as upstream's `ToolRetriever`
 * does (`toolbench/utils.py: process_retrieval_ducoment`, preprocess-and-train.md §1): one
 * document text per docid, and a map from text to the API it came from.
 */
import { describeJsonType, inputError } from '../util/errors.js';
import { JsonSyntaxError, pyJsonParse } from '../util/pyjson-parse.js';
import { isPyObject, isPyTruthy, type PyObject, type PyValue } from '../util/py-value.js';
import { pyJsonDumps } from '../util/pyjson.js';
import { readTsvRecords, type TsvRecord } from './tsv-records.js';

/** An API's names as written in the corpus (not standardized). */
export interface CorpusApi {
  readonly categoryName: string;
  readonly toolName: string;
  readonly apiName: string;
}

export interface RetrievalCorpus {
  readonly file: string;
  /** One text per distinct docid, in first-appearance order (two docids may share a text). */
  readonly texts: readonly string[];
  /** The API of a document text; a text shared by several documents is the last one's API. */
  apiOf(text: string): CorpusApi;
}

const HEADER = ['docid', 'document_content'] as const;
const TEXT_FIELDS = ['category_name', 'tool_name', 'api_name', 'api_description'] as const;
const INTEGER = /^[+-]?[0-9]+$/;

/**
 * `category, tool, api, description, required_params: <pyjson>, optional_params: <pyjson>,
 * return_schema: <pyjson>`. A falsy name or description (missing, null, "") is empty, as
 * upstream's `doc.get(key, '') or ''`; a missing JSON field is `''`, serialised as `""`.
 * Throws an input error for a name or description that is neither a string nor falsy (upstream
 * fails there with a TypeError).
 */
export function retrievalDocumentText(content: PyObject): string {
  const problem = textFieldProblem(content);
  if (problem !== undefined) throw inputError('document_content', problem.key, 'a string or null', { got: problem.got });
  return documentText(content);
}

/** The text of content whose names and description have been checked. */
function documentText(content: PyObject): string {
  const [category, tool, api, description] = TEXT_FIELDS.map((key) => textField(content, key));
  return (
    `${category}, ${tool}, ${api}, ${description}` +
    `, required_params: ${jsonField(content, 'required_parameters')}` +
    `, optional_params: ${jsonField(content, 'optional_parameters')}` +
    `, return_schema: ${jsonField(content, 'template_response')}`
  );
}

/**
 * Reads `corpus.tsv`. As upstream's dicts: a docid seen again keeps its first position and takes
 * the later row's text; a text seen again takes the later row's API. Throws input errors (exit 2)
 * naming the file and line: no `docid` / `document_content` header, a row with another number of
 * fields, a docid that is not an integer, content that is not a JSON object, no rows at all.
 */
export function readRetrievalCorpus(file: string): RetrievalCorpus {
  const records = readTsvRecords(file);
  const header = records.next();
  if (header.done === true) throw inputError(file, 'line 1', `the header "${HEADER.join('\\t')}"`, { got: 'an empty file' });
  const columns = headerColumns(header.value, file);
  const width = header.value.fields.length;

  const textByDocId = new Map<string, string>();
  const textToApi = new Map<string, CorpusApi>();
  // rows repeat the same content for every occurrence of an API: parse each content once
  const parsed = new Map<string, { readonly text: string; readonly api: CorpusApi }>();
  for (const record of records) {
    if (record.fields.length !== width) {
      throw inputError(file, `line ${record.line}`, `${width} tab-separated fields, as the header`, { got: `${record.fields.length}` });
    }
    const docId = record.fields[columns.docid] as string;
    if (!INTEGER.test(docId.trim())) throw inputError(file, `line ${record.line}, docid`, 'an integer', { got: JSON.stringify(docId) });
    const content = record.fields[columns.content] as string;
    let document = parsed.get(content);
    if (document === undefined) {
      document = parseDocument(content, file, record.line);
      parsed.set(content, document);
    }
    textByDocId.set(BigInt(docId.trim()).toString(), document.text);
    textToApi.set(document.text, document.api);
  }
  if (textByDocId.size === 0) throw inputError(file, 'line 2', 'at least one document row');
  return {
    file,
    texts: Object.freeze([...textByDocId.values()]),
    apiOf(text: string): CorpusApi {
      const api = textToApi.get(text);
      if (api === undefined) throw new RangeError(`${file}: no document has the text ${JSON.stringify(text.slice(0, 80))}`);
      return api;
    },
  };
}

function headerColumns(header: TsvRecord, file: string): { readonly docid: number; readonly content: number } {
  const docid = header.fields.indexOf(HEADER[0]);
  const content = header.fields.indexOf(HEADER[1]);
  if (docid < 0 || content < 0) {
    throw inputError(file, `line ${header.line}`, `the header "${HEADER.join('\\t')}"`, { got: JSON.stringify(header.fields.join('\t').slice(0, 80)) });
  }
  return { docid, content };
}

function parseDocument(content: string, file: string, line: number): { text: string; api: CorpusApi } {
  let value: PyValue;
  try {
    value = pyJsonParse(content);
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    throw inputError(file, `line ${line}, document_content ${error.jsonPath} (column ${error.column})`, error.expected, { cause: error });
  }
  if (!isPyObject(value)) throw inputError(file, `line ${line}, document_content`, 'a JSON object (an api_list entry)', { got: describeJsonType(value) });
  const problem = textFieldProblem(value);
  if (problem !== undefined) throw inputError(file, `line ${line}, document_content.${problem.key}`, 'a string or null', { got: problem.got });
  return {
    text: documentText(value),
    // upstream reads doc['category_name'] etc. directly here (a KeyError when missing); we take the text's value
    api: Object.freeze({ categoryName: textField(value, 'category_name'), toolName: textField(value, 'tool_name'), apiName: textField(value, 'api_name') }),
  };
}

function textFieldProblem(content: PyObject): { key: string; got: string } | undefined {
  for (const key of TEXT_FIELDS) {
    const value = own(content, key);
    if (typeof value !== 'string' && isPyTruthy(value)) return { key, got: describeJsonType(value) };
  }
  return undefined;
}

function textField(content: PyObject, key: string): string {
  const value = own(content, key);
  return typeof value === 'string' ? value : '';
}

function jsonField(content: PyObject, key: string): string {
  const value = own(content, key);
  return pyJsonDumps(value === undefined ? '' : value); // a present null stays `null`
}

function own(content: PyObject, key: string): PyValue | undefined {
  return Object.hasOwn(content, key) ? content[key] : undefined;
}
