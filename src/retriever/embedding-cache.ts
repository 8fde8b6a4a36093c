/**
 * Corpus embeddings kept on disk, so that a second start skips embedding the whole corpus
 * (StableToolBench keeps a torch `.pt` beside the corpus, formats.md §8; ours is our own format).
 *
 * One file per (corpus path, model path) in the cache folder, named after both
 * (`<corpus stem>_<model folder>_<hash of both paths>.embeddings`), so that a changed corpus
 * replaces its file instead of adding one. What the vectors were computed from (the texts, the
 * model's files, the sequence length, pooling and float type) is a SHA-256 key in the header; a
 * file whose key, shape, size or payload checksum does not match is ignored and rewritten.
 *
 * Layout (little-endian):
 *   0   16 bytes  magic "toolbench-emb-v1"
 *   16  32 bytes  key (SHA-256)
 *   48  uint32    rows
 *   52  uint32    dimension
 *   56  32 bytes  SHA-256 of the payload
 *   88  rows × dimension float32, row-major (unit vectors)
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { SentenceHead } from '../runner/bert-graph.js';
import type { FloatType } from '../runner/onnx-graph.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { fileError } from '../util/json-file.js';

const MAGIC = Buffer.from('toolbench-emb-v1', 'latin1');
const HEADER_BYTES = 88;

/** Everything the corpus embeddings depend on. */
export interface EmbeddingSource {
  readonly model: string;
  readonly maxLength: number;
  readonly head: SentenceHead;
  readonly floatType: FloatType;
  readonly texts: readonly string[];
}

export function embeddingCacheFile(cacheDir: string, corpusFile: string, model: string): string {
  const paths = createHash('sha256').update(`${realpathSync(corpusFile)}\0${realpathSync(model)}`).digest('hex').slice(0, 12);
  return join(cacheDir, `${basename(corpusFile).replace(/\.tsv$/, '')}_${basename(realpathSync(model))}_${paths}.embeddings`);
}

/**
 * The key: the model folder's real path with the size and modification time of its weights,
 * configuration and tokenizer files (`*.json`, `*.safetensors`, `*.txt`, and `*.json` one folder
 * down, as `1_Pooling/config.json`), the settings, and every text in order.
 */
export function embeddingCacheKey(source: EmbeddingSource): Buffer {
  const hash = createHash('sha256');
  const model = realpathSync(source.model);
  const files = modelFiles(model).map((file) => {
    const path = join(model, file);
    try {
      const stats = statSync(path);
      return [file, stats.size, stats.mtimeMs];
    } catch (error) {
      throw fileError(path, error); // a broken link among the model's files
    }
  });
  hash.update(JSON.stringify({ model, files, maxLength: source.maxLength, head: source.head, floatType: source.floatType }));
  for (const text of source.texts) hash.update(`\n${Buffer.byteLength(text)}:`).update(text);
  return hash.digest();
}

/** The embeddings (rows × dimension) stored under `key`, or undefined when the file is missing or does not match. */
export function readEmbeddingCache(file: string, key: Buffer, rows: number, dimension: number): Float32Array | undefined {
  let bytes: Buffer;
  try {
    if (statSync(file).size !== HEADER_BYTES + rows * dimension * 4) return undefined; // not read at all
    bytes = readFileSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fileError(file, error);
  }
  if (bytes.length !== HEADER_BYTES + rows * dimension * 4) return undefined;
  if (!bytes.subarray(0, 16).equals(MAGIC) || !bytes.subarray(16, 48).equals(key)) return undefined;
  if (bytes.readUInt32LE(48) !== rows || bytes.readUInt32LE(52) !== dimension) return undefined;
  const payload = bytes.subarray(HEADER_BYTES);
  if (!createHash('sha256').update(payload).digest().equals(bytes.subarray(56, 88))) return undefined;
  const matrix = new Float32Array(rows * dimension);
  Buffer.from(matrix.buffer).set(payload); // a copy: the file's bytes need not be 4-byte aligned
  return matrix;
}

/** Writes the file atomically (readers see the old file or the whole new one). */
export async function writeEmbeddingCache(file: string, key: Buffer, dimension: number, matrix: Float32Array): Promise<void> {
  const payload = Buffer.from(matrix.buffer, matrix.byteOffset, matrix.byteLength);
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  key.copy(header, 16);
  header.writeUInt32LE(matrix.length / dimension, 48);
  header.writeUInt32LE(dimension, 52);
  createHash('sha256').update(payload).digest().copy(header, 56);
  try {
    await writeFileAtomic(file, [header, payload]);
  } catch (error) {
    throw fileError(file, error);
  }
}

const MODEL_FILE = /\.(json|safetensors|txt)$/;

function modelFiles(model: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(model, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(join(model, entry.name)))) {
      for (const inner of readdirSync(join(model, entry.name))) if (inner.endsWith('.json')) files.push(`${entry.name}/${inner}`);
    } else if (MODEL_FILE.test(entry.name)) {
      files.push(entry.name);
    }
  }
  return files.sort();
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a broken link: not part of the model
  }
}
