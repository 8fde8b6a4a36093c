/**
 * Opens onnxruntime sessions on the device asked for. ORT throws when a provider it was asked for
 * cannot load (it does not fall back), so each provider is tried on its own, in order, and the
 * runner reports which one it uses and why the others were passed over.
 */
import { ToolbenchError } from '../util/errors.js';
import type { BuiltModel } from './onnx-graph.js';
import { firstLine } from './host-programs.js';
import { cudaProviderInstalled } from './providers.js';

export type DeviceRequest = 'auto' | 'cuda' | 'webgpu' | 'cpu';
export type Device = 'cuda' | 'webgpu' | 'cpu';
export const DEVICE_REQUESTS: readonly DeviceRequest[] = ['auto', 'cuda', 'webgpu', 'cpu'];

type Ort = typeof import('onnxruntime-node');
export type OrtSession = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use: most commands never run a model. */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').catch((error: unknown) => {
    ortModule = undefined;
    throw new ToolbenchError('runner.unavailable', 1, `onnxruntime-node cannot be loaded: ${(error as Error).message}`, { cause: error });
  });
  return ortModule;
}

export interface OpenedSession {
  readonly session: OrtSession;
  readonly device: Device;
  /** Why providers before the one used were passed over (empty when the first one worked). */
  readonly fallbacks: readonly string[];
}

export interface SessionSettings {
  readonly device: DeviceRequest;
  /** CPU threads for one operator (ORT's intra-op pool); ORT's default otherwise. */
  readonly threads?: number;
}

function candidates(request: DeviceRequest): Device[] {
  if (request !== 'auto') return request === 'cpu' ? ['cpu'] : [request, 'cpu'];
  return cudaProviderInstalled() ? ['cuda', 'cpu'] : ['cpu'];
}

/** Opens a generated model, or a model file on disk (an Optimum export, whose external data ORT finds beside it). */
export async function openSession(model: BuiltModel | string, settings: SessionSettings): Promise<OpenedSession> {
  const ort = await loadOrt();
  const fallbacks: string[] = [];
  for (const device of candidates(settings.device)) {
    if (device === 'cuda' && !cudaProviderInstalled()) {
      fallbacks.push('cuda: the CUDA provider is not installed (run "toolbench setup cuda")');
      continue;
    }
    try {
      const options = {
        executionProviders: [device],
        graphOptimizationLevel: 'all' as const,
        ...(settings.threads !== undefined ? { intraOpNumThreads: settings.threads } : {}),
      };
      const session =
        typeof model === 'string'
          ? await ort.InferenceSession.create(model, options)
          : await ort.InferenceSession.create(model.model, { ...options, externalData: model.externalData.map((weight) => ({ path: weight.path, data: weight.data })) });
      return { session, device, fallbacks };
    } catch (error) {
      if (device === 'cpu') throw new ToolbenchError('runner.failed', 1, `onnxruntime could not load the model: ${(error as Error).message}`, { cause: error });
      fallbacks.push(`${device}: ${firstLine((error as Error).message)}`);
    }
  }
  throw new ToolbenchError('runner.failed', 1, `no execution provider could load the model: ${fallbacks.join('; ')}`);
}
