/**
 * The Node side of test/golden/hf_reference.py: golden outputs from Hugging Face's own Python
 * implementations, for tests that skip where Python lacks torch/transformers. The interpreter is
 * TOOLBENCH_GOLDEN_PYTHON (for instance a virtual environment's bin/python), default python3.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from './paths.js';

export const GOLDEN_PYTHON = process.env.TOOLBENCH_GOLDEN_PYTHON ?? 'python3';
const SCRIPT = join(PROJECT_ROOT, 'test', 'golden', 'hf_reference.py');
const probed = new Map<string, string | false>();

/** `false` when every module imports in GOLDEN_PYTHON; otherwise the reason to pass as `skip`. */
export function skipWithoutPython(modules: readonly string[] = ['torch', 'transformers']): string | false {
  const key = modules.join(',');
  let reason = probed.get(key);
  if (reason === undefined) {
    const result = spawnSync(GOLDEN_PYTHON, ['-c', `import ${key}`], { encoding: 'utf8', timeout: 120_000 });
    reason = result.status === 0 ? false : `${GOLDEN_PYTHON} cannot import ${key} (set TOOLBENCH_GOLDEN_PYTHON)`;
    probed.set(key, reason);
  }
  return reason;
}

export interface HfForwardRequest {
  readonly mode?: 'forward';
  readonly dir: string;
  readonly kind: 'llama' | 'bert';
  readonly ids: readonly (readonly number[])[];
  readonly attention_mask?: readonly (readonly number[])[];
  readonly position_ids?: readonly (readonly number[])[];
  readonly token_type_ids?: readonly (readonly number[])[];
}
export interface HfTokenizeRequest {
  readonly mode: 'tokenize';
  readonly dir: string;
  readonly texts: readonly string[];
  readonly pairs?: readonly string[];
  readonly add_special_tokens?: boolean;
}
export interface HfSentenceTransformersRequest {
  readonly mode: 'sentence-transformers';
  readonly dir: string;
  readonly texts: readonly string[];
}
export type HfRequest = HfForwardRequest | HfTokenizeRequest | HfSentenceTransformersRequest;

export interface HfAnswer {
  readonly logits?: number[][][];
  readonly last_hidden_state?: number[][][];
  readonly embeddings?: number[][];
  readonly ids?: number[][];
  readonly tokens?: string[][];
  readonly type_ids?: number[][];
}

/** Runs the requests in one Python process (torch is imported once). */
export function hfReference(requests: readonly HfRequest[]): HfAnswer[] {
  const result = spawnSync(GOLDEN_PYTHON, [SCRIPT], {
    input: JSON.stringify(requests),
    encoding: 'utf8',
    maxBuffer: 512 * 1024 * 1024,
    timeout: 600_000,
  });
  if (result.status !== 0) throw new Error(`hf_reference.py failed (${result.status ?? result.signal}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as HfAnswer[];
}
