/**
 * Finds what a model folder holds and reads its config: a Hugging Face checkpoint
 * (config.json + safetensors, possibly sharded), an Optimum export (model.onnx beside config.json),
 * or a GGUF file (the path itself, or the only *.gguf in the folder).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { parseModelConfig, type ModelConfig } from './model-config.js';

export type CheckpointLayout =
  | { readonly format: 'safetensors'; readonly dir: string; readonly configFile: string }
  | { readonly format: 'onnx'; readonly dir: string; readonly configFile: string; readonly modelFile: string }
  | { readonly format: 'gguf'; readonly file: string };

export function findCheckpoint(path: string): CheckpointLayout {
  if (!existsSync(path)) throw new ToolbenchError('usage.invalid', 2, `${path}: no such model folder or file`);
  if (statSync(path).isFile()) {
    if (path.endsWith('.gguf')) return { format: 'gguf', file: path };
    throw new ToolbenchError('usage.invalid', 2, `${path}: expected a model folder (config.json and *.safetensors, or model.onnx) or a .gguf file`);
  }
  const configFile = join(path, 'config.json');
  const names = readdirSync(path);
  if (existsSync(configFile)) {
    if (names.some((name) => name.endsWith('.safetensors') || name === 'model.safetensors.index.json')) return { format: 'safetensors', dir: path, configFile };
    for (const candidate of ['model.onnx', join('onnx', 'model.onnx')]) {
      if (existsSync(join(path, candidate))) return { format: 'onnx', dir: path, configFile, modelFile: join(path, candidate) };
    }
  }
  const ggufs = names.filter((name) => name.endsWith('.gguf'));
  if (ggufs.length === 1) return { format: 'gguf', file: join(path, ggufs[0] as string) };
  if (ggufs.length > 1) throw new ToolbenchError('usage.invalid', 2, `${path}: several .gguf files (${ggufs.join(', ')}): give the path of the one to run`);
  throw new ToolbenchError(
    'usage.invalid',
    2,
    `${path}: not a model folder: expected config.json with *.safetensors (a Hugging Face checkpoint) or model.onnx (an Optimum export), or a .gguf file`,
  );
}

export function readModelConfig(configFile: string): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configFile, 'utf8'));
  } catch (error) {
    throw new ToolbenchError('model.invalid', 2, `${configFile}: cannot read the model config: ${(error as Error).message}`, { cause: error });
  }
  return parseModelConfig(json, configFile);
}
