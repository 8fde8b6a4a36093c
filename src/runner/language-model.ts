/** A decoder and its tokenizer from one path: a checkpoint folder, an Optimum export or a GGUF file. */
import { ToolbenchError } from '../util/errors.js';
import { CausalLm, type CausalLmOptions } from './causal-lm.js';
import { findCheckpoint } from './checkpoint.js';
import { TextTokenizer } from './tokenizer.js';

export interface LanguageModel {
  readonly lm: CausalLm;
  readonly tokenizer: TextTokenizer;
}

export async function loadLanguageModel(path: string, options: CausalLmOptions): Promise<LanguageModel> {
  const layout = findCheckpoint(path);
  if (layout.format === 'gguf') {
    const { loadGgufLlamaWeights } = await import('./gguf-weights.js');
    const loaded = loadGgufLlamaWeights(layout.file);
    const tokenizer = TextTokenizer.fromFiles(loaded.tokenizer);
    return { lm: await CausalLm.fromWeights(loaded, options), tokenizer };
  }
  let tokenizer: TextTokenizer;
  try {
    tokenizer = TextTokenizer.fromDir(layout.dir);
  } catch (error) {
    if (error instanceof ToolbenchError) throw new ToolbenchError(error.code, error.exitCode, `${error.message} (a model folder needs its tokenizer.json)`, { cause: error });
    throw error;
  }
  return { lm: await CausalLm.load(path, options), tokenizer };
}
