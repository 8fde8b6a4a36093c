/**
 * Rows as Python's `csv.writer` writes them with `delimiter='\t'` and the default dialect
 * otherwise (QUOTE_MINIMAL, `"` doubled, `\r\n` line ends): ToolEval's result CSVs (formats.md
 * §5, §6), which its preference step reads back. A field is quoted when it holds the delimiter,
 * a quote, `\r` or `\n`. Values are written as Python's `str()` (None as an empty field).
 */
import { pyStr } from './pyrepr.js';

export function pyCsvRow(fields: readonly unknown[], delimiter = '\t', lineEnd = '\r\n'): string {
  return `${fields.map((field) => csvField(field, delimiter, lineEnd)).join(delimiter)}${lineEnd}`;
}

/** Quoted when it holds the delimiter, a quote or a character of the line end (Python 3.11's rule). */
function csvField(value: unknown, delimiter: string, lineEnd: string): string {
  const text = value === null || value === undefined ? '' : pyStr(value);
  if (text.includes(delimiter) || text.includes('"') || [...lineEnd].some((character) => text.includes(character))) return `"${text.replaceAll('"', '""')}"`;
  return text;
}

