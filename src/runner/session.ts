/**
 * Opens onnxruntime sessions on the device asked for. ORT throws when a provider it was asked for
 * cannot load (it does not fall back), so each provider is tried on its own, in order, and the
 * runner reports which one it uses and why the others were passed over.
 */
import { ToolbenchError } from '../util/errors.js';
import type { BuiltModel } from './onnx-graph.js';
import { firstLine, softwareWebGpuNote } from './host-programs.js';
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
  /** Why providers before the one used were passed over, and caveats about the one used (empty when there are none). */
  readonly deviceNotes: readonly string[];
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

/** The session options that give onnxruntime a generated model's weights: in memory, or where they lie (onnx-graph.ts). */
export function weightOptions(model: BuiltModel): { externalData: { path: string; data: Uint8Array }[]; extra?: { session: Record<string, string> } } {
  return {
    externalData: model.externalData.map((weight) => ({ path: weight.path, data: weight.data })),
    // the folder of the weights referenced in place: a model loaded from bytes has none of its own
    ...(model.externalFolder !== undefined ? { extra: { session: { model_external_initializers_file_folder_path: model.externalFolder } } } : {}),
  };
}

/** What to open on one device: a generated model or a model file, and the outputs to leave in the device's memory. */
export interface DeviceModel {
  readonly model: BuiltModel | string;
  /**
   * Outputs handed back as GPU buffers instead of being copied to the host, to be fed to a later
   * run (device-kv-cache.ts). onnxruntime-node 1.29 binds outputs on the device for WebGPU only.
   */
  readonly deviceOutputs?: readonly string[];
}

/** The model for a device: a graph can be built differently for each provider it may run on. */
export type ModelForDevice = (device: Device) => DeviceModel;

/**
 * Opens a generated model, or a model file on disk (an Optimum export, whose external data ORT
 * finds beside it), or what `model` gives for each device tried.
 */
export async function openSession(model: BuiltModel | string | ModelForDevice, settings: SessionSettings): Promise<OpenedSession> {
  const ort = await loadOrt();
  const deviceNotes: string[] = [];
  for (const device of candidates(settings.device)) {
    if (device === 'cuda' && !cudaProviderInstalled()) {
      deviceNotes.push('cuda: the CUDA provider is not installed (run "toolbench setup cuda")');
      continue;
    }
    // outside the try: a model that cannot be built is not a provider to fall back from
    const chosen = typeof model === 'function' ? model(device) : { model };
    const deviceOutputs = device === 'webgpu' ? (chosen.deviceOutputs ?? []) : [];
    try {
      const options = {
        executionProviders: [device],
        graphOptimizationLevel: 'all' as const,
        // errors only on WebGPU: ORT warns on every session that it keeps shape arithmetic on the CPU, which it does on purpose
        ...(device === 'webgpu' ? { logSeverityLevel: 3 as const } : {}),
        ...(settings.threads !== undefined ? { intraOpNumThreads: settings.threads } : {}),
        ...(deviceOutputs.length > 0 ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((name) => [name, 'gpu-buffer' as const])) } : {}),
      };
      const source = chosen.model;
      const session =
        typeof source === 'string'
          ? await ort.InferenceSession.create(source, options)
          : await ort.InferenceSession.create(source.model, { ...options, ...weightOptions(source) });
      const software = device === 'webgpu' ? softwareWebGpuNote() : undefined;
      if (software !== undefined) deviceNotes.push(`webgpu: ${software}`);
      return { session, device, deviceNotes };
    } catch (error) {
      if (device === 'cpu') throw new ToolbenchError('runner.failed', 1, `onnxruntime could not load the model: ${(error as Error).message}`, { cause: error });
      deviceNotes.push(`${device}: ${firstLine((error as Error).message)}`);
    }
  }
  throw new ToolbenchError('runner.failed', 1, `no execution provider could load the model: ${deviceNotes.join('; ')}`);
}
