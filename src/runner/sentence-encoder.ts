/**
 * Sentence embeddings from a BERT checkpoint in the sentence-transformers layout (modules.json,
 * 1_Pooling/config.json, sentence_bert_config.json), or a bare BertModel (mean pooling, L2
 * normalised). As sentence-transformers does, texts are sorted by length (longest first) before
 * they are cut into batches, so each batch, padded to its longest text, carries little padding;
 * the embeddings come back in the order of the texts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from 'onnxruntime-common';
import { ToolbenchError } from '../util/errors.js';
import { buildBertGraph, buildFusedBertGraph, type SentenceHead } from './bert-graph.js';
import { findCheckpoint, readModelConfig } from './checkpoint.js';
import type { BertConfig } from './model-config.js';
import type { FloatType } from './onnx-graph.js';
import { readCheckpointTensors } from './safetensors.js';
import { loadOrt, openSession, type Device, type OrtSession, type SessionSettings } from './session.js';
import { TextTokenizer } from './tokenizer.js';
import { safetensorsWeights } from './weights.js';

export interface SentenceEncoderOptions extends SessionSettings {
  readonly floatType?: FloatType;
  /**
   * 'fused' (the default): onnxruntime's com.microsoft BERT operators (bert-graph.ts), about 1.2x
   * faster on CPU; 'unfused': standard ONNX operators only. Float16 graphs are always unfused.
   */
  readonly graph?: 'fused' | 'unfused';
}

export class SentenceEncoder {
  private constructor(
    readonly config: BertConfig,
    readonly head: SentenceHead,
    readonly maxLength: number,
    readonly tokenizer: TextTokenizer,
    private readonly session: OrtSession,
    readonly device: Device,
    readonly deviceNotes: readonly string[],
  ) {}

  static async load(dir: string, options: SentenceEncoderOptions): Promise<SentenceEncoder> {
    const layout = findCheckpoint(dir);
    if (layout.format !== 'safetensors') throw new ToolbenchError('usage.invalid', 2, `${dir}: embedding models are read from Hugging Face checkpoints (config.json and *.safetensors)`);
    const config = readModelConfig(layout.configFile);
    if (config.kind !== 'bert') throw new ToolbenchError('usage.invalid', 2, `${layout.configFile}: a decoder, not a BERT encoder: use "toolbench model generate"`);
    const head = readSentenceHead(dir);
    const maxLength = Math.min(readMaxSeqLength(dir) ?? config.maxPositions, config.maxPositions);
    const weights = safetensorsWeights(dir, readCheckpointTensors(dir));
    const floatType = options.floatType ?? 'float32';
    const built = floatType === 'float32' && options.graph !== 'unfused' ? buildFusedBertGraph(config, weights, head) : buildBertGraph(config, weights, head, floatType);
    const opened = await openSession(built, options);
    return new SentenceEncoder(config, head, maxLength, TextTokenizer.fromDir(dir), opened.session, opened.device, opened.deviceNotes);
  }

  /**
   * One embedding per text, in order. `onBatch` is told how many texts are done after each
   * batch, and `signal` is checked before each (long inputs: a retriever's corpus).
   */
  async embed(texts: readonly string[], batchSize = 32, progress: { onBatch?: (done: number) => void; signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    const ort = await loadOrt();
    const embeddings = new Array<Float32Array>(texts.length);
    const order = texts.map((_, index) => index).sort((a, b) => (texts[b] as string).length - (texts[a] as string).length || a - b);
    for (let start = 0; start < texts.length; start += batchSize) {
      progress.signal?.throwIfAborted();
      const indices = order.slice(start, start + batchSize);
      const batch = this.tokenizer.encodeBatch(indices.map((index) => texts[index] as string), { padding: 'right', maxLength: this.maxLength, truncation: 'right' });
      const rows = batch.ids.length;
      const width = batch.ids[0]?.length ?? 0;
      const int64 = (values: readonly (readonly number[])[]): Tensor => new ort.Tensor('int64', BigInt64Array.from(values.flat(), (value) => BigInt(value)), [rows, width]);
      const outputs = await this.session.run({
        input_ids: int64(batch.ids),
        attention_mask: int64(batch.attentionMask),
        token_type_ids: new ort.Tensor('int64', new BigInt64Array(rows * width), [rows, width]),
      });
      const data = (outputs['sentence_embedding'] as Tensor).data as Float32Array;
      const size = this.config.hiddenSize;
      indices.forEach((index, row) => (embeddings[index] = data.slice(row * size, (row + 1) * size)));
      progress.onBatch?.(start + indices.length);
    }
    return embeddings;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The pooling and normalisation sentence-transformers would apply (mean + L2 without its files). */
export function readSentenceHead(dir: string): SentenceHead {
  const modulesFile = join(dir, 'modules.json');
  if (!existsSync(modulesFile)) return { pooling: 'mean', normalize: true };
  const modules = readJson(modulesFile) as { type?: string; path?: string }[];
  if (!Array.isArray(modules)) throw new ToolbenchError('model.invalid', 2, `${modulesFile}: expected a list of modules`);
  const normalize = modules.some((module) => module.type?.endsWith('.Normalize') === true);
  const pooling = modules.find((module) => module.type?.endsWith('.Pooling') === true);
  if (pooling === undefined) return { pooling: 'mean', normalize };
  const poolingFile = join(dir, pooling.path ?? '1_Pooling', 'config.json');
  const settings = (existsSync(poolingFile) ? readJson(poolingFile) : {}) as Record<string, unknown>;
  if (settings['pooling_mode_cls_token'] === true) return { pooling: 'cls', normalize };
  if (settings['pooling_mode_mean_tokens'] === false) {
    throw new ToolbenchError('model.unsupported', 2, `${poolingFile}: only mean and CLS pooling are supported`);
  }
  return { pooling: 'mean', normalize };
}

function readMaxSeqLength(dir: string): number | undefined {
  const file = join(dir, 'sentence_bert_config.json');
  if (!existsSync(file)) return undefined;
  const value = (readJson(file) as { max_seq_length?: unknown }).max_seq_length;
  return typeof value === 'number' ? value : undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ToolbenchError('model.invalid', 2, `${file}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
