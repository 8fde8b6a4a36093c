/**
 * PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors) on the base weights, with
 * scale = lora_alpha / r (or / sqrt(r) with rsLoRA): merged as they are read (W + scale * B @ A),
 * or as a side branch the graph adds (x @ A^T @ (scale * B)^T, llama-graph-parts.ts), which keeps
 * a quantised W packed. Names follow PEFT: `base_model.model.<base name without .weight>.lora_A.weight`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolbenchError } from '../util/errors.js';
import { readSafetensorsHeader, readTensorFloat32, type StoredTensor } from './safetensors.js';
import type { LoraBranch, QuantizedWeight, WeightSource, WeightValues } from './weights.js';

export interface LoraAdapter {
  readonly dir: string;
  readonly rank: number;
  readonly scale: number;
  /** Base weight name → its A ([r, in]) and B ([out, r]) tensors. */
  readonly pairs: ReadonlyMap<string, { readonly a: StoredTensor; readonly b: StoredTensor }>;
}

export function readLoraAdapter(dir: string): LoraAdapter {
  const configFile = join(dir, 'adapter_config.json');
  const weightsFile = join(dir, 'adapter_model.safetensors');
  if (!existsSync(configFile)) throw new ToolbenchError('usage.invalid', 2, `${dir}: not a PEFT adapter folder (adapter_config.json is missing)`);
  if (!existsSync(weightsFile)) {
    const pickled = existsSync(join(dir, 'adapter_model.bin')) ? ' (adapter_model.bin is a pickle, which is not read: save the adapter with safe_serialization=True)' : '';
    throw new ToolbenchError('usage.invalid', 2, `${dir}: adapter_model.safetensors is missing${pickled}`);
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new ToolbenchError('model.invalid', 2, `${configFile}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (config['peft_type'] !== undefined && config['peft_type'] !== 'LORA') throw new ToolbenchError('model.unsupported', 2, `${configFile}: peft_type ${String(config['peft_type'])}: only LORA adapters are supported`);
  const rank = config['r'];
  const alpha = config['lora_alpha'] ?? rank;
  if (typeof rank !== 'number' || !(rank > 0) || typeof alpha !== 'number') throw new ToolbenchError('model.invalid', 2, `${configFile}: expected numbers r and lora_alpha`);
  if (config['fan_in_fan_out'] === true) throw new ToolbenchError('model.unsupported', 2, `${configFile}: fan_in_fan_out adapters (GPT-2 style Conv1D) are not supported`);
  for (const key of ['rank_pattern', 'alpha_pattern']) {
    const pattern = config[key];
    if (pattern !== undefined && pattern !== null && (typeof pattern !== 'object' || Object.keys(pattern).length > 0)) {
      throw new ToolbenchError('model.unsupported', 2, `${configFile}: ${key}: adapters with per-module ranks or alphas are not supported`);
    }
  }
  const scale = config['use_rslora'] === true ? alpha / Math.sqrt(rank) : alpha / rank;
  const tensors = readSafetensorsHeader(weightsFile);
  const pairs = new Map<string, { a: StoredTensor; b: StoredTensor }>();
  for (const [name, a] of tensors) {
    const match = /^(?:base_model\.model\.)?(.+)\.lora_A(?:\.default)?\.weight$/.exec(name);
    if (match === null) continue;
    const b = tensors.get(name.replace('.lora_A', '.lora_B'));
    if (b === undefined) throw new ToolbenchError('model.invalid', 2, `${weightsFile}: ${name} has no lora_B partner`);
    pairs.set(`${match[1] as string}.weight`, { a, b });
  }
  if (pairs.size === 0) throw new ToolbenchError('model.invalid', 2, `${weightsFile}: no lora_A/lora_B weights found`);
  return { dir, rank, scale, pairs };
}

export type LoraMode = 'merge' | 'branch' | 'auto';
export const LORA_MODES: readonly LoraMode[] = ['auto', 'merge', 'branch'];

/** The base weights with the adapter merged in (float); the quants of weights it does not change pass through. */
export function mergeLora(base: WeightSource, adapter: LoraAdapter): WeightSource {
  return applyLora(base, adapter, 'merge');
}

/** The base weights as they are (`read`, `quantized`), with the adapter as side branches (`lora`). */
export function loraBranch(base: WeightSource, adapter: LoraAdapter): WeightSource {
  return applyLora(base, adapter, 'branch');
}

/**
 * The adapter on the base weights, weight by weight: merged at load (W + scale·B·A: no work per
 * step, but W must be float, so a quantised W is dequantised), or kept as a side branch beside W
 * (two products r wide a step; W stays as the base has it). `auto` branches the weights the base
 * offers as 4-bit quants, so that they stay packed, and merges the others. Every adapted weight must
 * exist in the base; its A and B are checked against its shape when it is merged or branched.
 */
export function applyLora(base: WeightSource, adapter: LoraAdapter, mode: LoraMode): WeightSource {
  for (const name of adapter.pairs.keys()) {
    if (!base.has(name)) throw new ToolbenchError('model.invalid', 2, `${adapter.dir}: the adapter changes ${name}, which ${base.origin} does not have (an adapter for another model?)`);
  }
  // an adapted weight's quants are asked of the base once: auto decides on them, and the graph gets them
  const quants = new Map<string, QuantizedWeight | undefined>();
  const quantsOf = (name: string): QuantizedWeight | undefined => {
    if (!quants.has(name)) quants.set(name, base.quantized?.(name));
    return quants.get(name);
  };
  // 4-bit quants are the ones the fused graph keeps packed (llama-fused-graph.ts); 8-bit ones run as floats there
  const branched = (name: string): boolean => mode === 'branch' || (mode === 'auto' && quantsOf(name)?.bits === 4);
  // the shapes of branched weights as the graph took them, so that the branch is checked without reading W again
  const shapes = new Map<string, readonly number[]>();
  return {
    origin: `${base.origin} + ${adapter.dir}`,
    has: (name) => base.has(name),
    read(name): WeightValues {
      const weight = base.read(name);
      if (!adapter.pairs.has(name)) return weight;
      if (branched(name)) {
        shapes.set(name, weight.shape);
        return weight;
      }
      const [out, inner] = weight.shape as [number, number];
      const { a, b, rank } = adapterPair(adapter, name, weight.shape);
      const merged = Float32Array.from(weight.data);
      for (let row = 0; row < out; row++) {
        for (let k = 0; k < rank; k++) {
          const factor = adapter.scale * (b[row * rank + k] as number);
          if (factor === 0) continue;
          const offset = row * inner;
          const aOffset = k * inner;
          for (let column = 0; column < inner; column++) merged[offset + column] = (merged[offset + column] as number) + factor * (a[aOffset + column] as number);
        }
      }
      return { shape: weight.shape, data: merged };
    },
    quantized(name) {
      if (!adapter.pairs.has(name)) return base.quantized?.(name);
      if (!branched(name)) return undefined; // merged: only the float weight has the adapter
      const weight = quantsOf(name);
      if (weight !== undefined) shapes.set(name, [weight.rows, weight.columns]);
      return weight;
    },
    stored(name) {
      // a merged weight's values are no longer the file's
      if (adapter.pairs.has(name) && !branched(name)) return undefined;
      const stored = base.stored?.(name);
      if (stored !== undefined && adapter.pairs.has(name)) shapes.set(name, stored.shape);
      return stored;
    },
    lora(name): LoraBranch | undefined {
      if (!adapter.pairs.has(name) || !branched(name)) return undefined;
      const { a, b, rank } = adapterPair(adapter, name, shapes.get(name) ?? base.read(name).shape);
      return { a, b: b.map((value) => value * adapter.scale), rank };
    },
  };
}

/** The adapter's A [r, in] and B [out, r] of `name`, checked against the weight's shape [out, in] and r. */
function adapterPair(adapter: LoraAdapter, name: string, shape: readonly number[]): { a: Float32Array; b: Float32Array; rank: number } {
  const pair = adapter.pairs.get(name) as { readonly a: StoredTensor; readonly b: StoredTensor };
  const [out, inner] = shape as [number, number];
  const rank = pair.a.shape[0] as number;
  if (rank !== adapter.rank || pair.a.shape[1] !== inner || pair.b.shape[0] !== out || pair.b.shape[1] !== rank) {
    throw new ToolbenchError('model.invalid', 2, `${adapter.dir}: the adapter of ${name} has A [${pair.a.shape.join(', ')}] and B [${pair.b.shape.join(', ')}], the weight is [${out}, ${inner}] and r is ${adapter.rank}`);
  }
  return { a: readTensorFloat32(pair.a), b: readTensorFloat32(pair.b), rank };
}
