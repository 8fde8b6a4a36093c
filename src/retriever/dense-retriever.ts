/**
 * Dense API retrieval at inference (spec algorithms.md §12 step 1–2; upstream `ToolRetriever`):
 * every document of `corpus.tsv` embedded with a sentence-transformers model, each query ranked
 * against them by cosine similarity.
 */
import { mkdirSync } from 'node:fs';
import { SentenceEncoder } from '../runner/sentence-encoder.js';
import type { Device, DeviceRequest } from '../runner/session.js';
import { fileError } from '../util/json-file.js';
import { usageError } from '../util/errors.js';
import { normalizeRows, topCosine } from './cosine-search.js';
import { readRetrievalCorpus, type CorpusApi, type RetrievalCorpus } from './corpus.js';
import { embeddingCacheFile, embeddingCacheKey, readEmbeddingCache, writeEmbeddingCache } from './embedding-cache.js';

/** sentence-transformers' `encode` default. */
const DEFAULT_BATCH_SIZE = 32;
const FLOAT_TYPE = 'float32';

export interface RetrievalHit {
  readonly text: string;
  /** Cosine similarity of the query and the document. */
  readonly score: number;
  readonly api: CorpusApi;
}

export interface DenseRetrieverOptions {
  /** A sentence-transformers folder (or a bare BERT checkpoint: mean pooling). */
  readonly model: string;
  /** `corpus.tsv` (formats.md §8). */
  readonly corpus: string;
  /** Default 'auto'. */
  readonly device?: DeviceRequest;
  /** Where the corpus embeddings are kept between starts; none when left out. */
  readonly cacheDir?: string;
  /** Texts per model run while embedding the corpus (default 32). */
  readonly batchSize?: number;
  /** After each batch of the corpus, and once with 0 before the first; not called when the cache is used. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Checked before each batch of the corpus, and once the model is loaded. */
  readonly signal?: AbortSignal;
  /** Told when the embeddings cannot be cached (the retriever works, the next start embeds again). */
  readonly warn?: (message: string) => void;
}

export class DenseRetriever {
  private released = false;

  private constructor(
    private readonly encoder: SentenceEncoder,
    private readonly corpus: RetrievalCorpus,
    /** (documents × dimension), unit rows, in corpus order. */
    private readonly matrix: Float32Array,
    readonly fromCache: boolean,
  ) {}

  get device(): Device {
    return this.encoder.device;
  }

  get deviceNotes(): readonly string[] {
    return this.encoder.deviceNotes;
  }

  /** The number of documents (distinct docids). */
  get documents(): number {
    return this.corpus.texts.length;
  }

  /**
   * Reads the corpus, loads the model, and embeds the corpus, or reads its embeddings from the
   * cache. Throws the corpus' and the model's input errors, and the signal's reason when aborted.
   */
  static async open(options: DenseRetrieverOptions): Promise<DenseRetriever> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw usageError(`batch size ${batchSize}: expected a positive integer`);
    options.signal?.throwIfAborted();
    const corpus = readRetrievalCorpus(options.corpus);
    if (options.cacheDir !== undefined) makeCacheDir(options.cacheDir); // fails before the long part, not after
    const encoder = await SentenceEncoder.load(options.model, { device: options.device ?? 'auto', floatType: FLOAT_TYPE });
    try {
      options.signal?.throwIfAborted();
      const dimension = encoder.config.hiddenSize;
      const rows = corpus.texts.length;
      const cache =
        options.cacheDir === undefined
          ? undefined
          : {
              file: embeddingCacheFile(options.cacheDir, options.corpus, options.model),
              key: embeddingCacheKey({ model: options.model, maxLength: encoder.maxLength, head: encoder.head, floatType: FLOAT_TYPE, texts: corpus.texts }),
            };
      const cached = cache === undefined ? undefined : readEmbeddingCache(cache.file, cache.key, rows, dimension);
      if (cached !== undefined) return new DenseRetriever(encoder, corpus, cached, true);
      const matrix = await embedCorpus(encoder, corpus.texts, batchSize, options);
      if (cache !== undefined) {
        // a full disk must not throw away an embedded corpus
        await writeEmbeddingCache(cache.file, cache.key, dimension, matrix).catch((error: unknown) => {
          if (options.warn === undefined) throw error;
          options.warn(`the corpus embeddings were not cached: ${(error as Error).message}`);
        });
      }
      return new DenseRetriever(encoder, corpus, matrix, false);
    } catch (error) {
      await encoder.release();
      throw error;
    }
  }

  /** The `n` documents most similar to `query`, best first; equal scores in corpus order. */
  async search(query: string, n: number): Promise<RetrievalHit[]> {
    if (!Number.isInteger(n) || n < 0) throw usageError(`${n} documents to retrieve: expected a non-negative integer`);
    if (this.released) throw new Error('DenseRetriever.search after release()');
    if (n === 0) return [];
    const dimension = this.encoder.config.hiddenSize;
    const [embedding] = await this.encoder.embed([query], 1);
    const unit = normalizeRows(embedding as Float32Array, dimension); // a fresh array: normalised in place
    return topCosine(this.matrix, dimension, unit, n).map(({ index, score }) => {
      const text = this.corpus.texts[index] as string;
      return { text, score, api: this.corpus.apiOf(text) };
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.encoder.release();
  }
}

/** Unit embeddings of `texts` (texts × dimension), in text order. */
async function embedCorpus(
  encoder: SentenceEncoder,
  texts: readonly string[],
  batchSize: number,
  options: Pick<DenseRetrieverOptions, 'onProgress' | 'signal'>,
): Promise<Float32Array> {
  const dimension = encoder.config.hiddenSize;
  options.onProgress?.(0, texts.length);
  const embeddings = await encoder.embed(texts, batchSize, {
    onBatch: (done) => options.onProgress?.(done, texts.length),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const matrix = new Float32Array(texts.length * dimension);
  embeddings.forEach((embedding, index) => matrix.set(embedding, index * dimension));
  return normalizeRows(matrix, dimension);
}

function makeCacheDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw fileError(dir, error);
  }
}
