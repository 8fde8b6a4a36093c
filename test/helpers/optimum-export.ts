/**
 * An "Optimum export" of a tiny checkpoint: our own graph written to disk as `dir/model.onnx`, one
 * external data file per weight beside it, with the config and tokenizer files copied (our graphs
 * have Optimum's I/O names, so this is the layout an exported folder has).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLlamaGraph, type LlamaGraphKind } from '../../src/runner/llama-graph.js';
import { parseModelConfig, type LlamaConfig } from '../../src/runner/model-config.js';
import { readCheckpointTensors } from '../../src/runner/safetensors.js';
import { safetensorsWeights } from '../../src/runner/weights.js';

export function exportOnnx(checkpoint: string, dir: string, floatType: 'float32' | 'float16', graph?: LlamaGraphKind): void {
  mkdirSync(dir, { recursive: true });
  const config = parseModelConfig(JSON.parse(readFileSync(join(checkpoint, 'config.json'), 'utf8')), 'config.json') as LlamaConfig;
  const built = buildLlamaGraph(config, safetensorsWeights(checkpoint, readCheckpointTensors(checkpoint)), { floatType, ...(graph !== undefined ? { graph } : {}) });
  writeFileSync(join(dir, 'model.onnx'), built.model);
  for (const weight of built.externalData) writeFileSync(join(dir, weight.path), weight.data);
  // weights referenced in place name the checkpoint's files: an export carries them beside the model
  if (built.externalFolder !== undefined) {
    for (const name of readdirSync(built.externalFolder)) if (name.endsWith('.safetensors')) copyFileSync(join(built.externalFolder, name), join(dir, name));
  }
  for (const name of ['config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    if (existsSync(join(checkpoint, name))) copyFileSync(join(checkpoint, name), join(dir, name));
  }
}
