/**
 * Whether an execution provider really works here: a one-node model (y = x + [1, 2]) is opened
 * on that provider alone and run once. Files on disk say what is installed; only this says
 * whether the driver, the libraries and the GPU fit together.
 */
import { GraphBuilder } from './onnx-graph.js';
import { DataType } from './onnx-proto.js';
import { loadOrt, type Device } from './session.js';
import { firstLine } from './host-programs.js';

export interface ProbeResult {
  readonly ok: boolean;
  /** Session creation and one run, in milliseconds. */
  readonly ms: number;
  readonly error?: string;
}

export interface BundledProvider {
  readonly name: string;
  /** In the npm package itself (false: installed separately, as CUDA is). */
  readonly bundled: boolean;
}

/** The providers this onnxruntime-node build knows, as it reports them. */
export async function ortProviders(): Promise<readonly BundledProvider[]> {
  const ort = await loadOrt();
  return ort.listSupportedBackends().map((backend) => ({ name: backend.name, bundled: backend.bundled }));
}

export async function probeProvider(device: Device, now: () => number = () => performance.now()): Promise<ProbeResult> {
  const started = now();
  const elapsed = () => Math.round((now() - started) * 10) / 10;
  const graph = new GraphBuilder('probe', 'float32');
  const x = graph.input('x', DataType.FLOAT, [2]);
  graph.output(graph.op('Add', [x, graph.floats([1, 2])], {}, { names: ['y'] }), DataType.FLOAT, [2]);
  const built = graph.build({ '': 17 });
  try {
    const ort = await loadOrt();
    // 3 = errors only: ORT's own warnings about nodes placed on the CPU are expected here
    const session = await ort.InferenceSession.create(built.model, { executionProviders: [device], logSeverityLevel: 3 });
    try {
      const output = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1]), [2]) });
      const values = Array.from((output.y?.data ?? []) as Float32Array);
      if (values[0] !== 2 || values[1] !== 3) return { ok: false, ms: elapsed(), error: `wrong result: [${values.join(', ')}], expected [2, 3]` };
    } finally {
      await session.release();
    }
    return { ok: true, ms: elapsed() };
  } catch (error) {
    return { ok: false, ms: elapsed(), error: ortMessage((error as Error).message) };
  }
}

/** ORT's failed checks read "/onnxruntime_src/...cc:100 <function> <condition> was false. <why>": keep the why. */
function ortMessage(message: string): string {
  const line = message.trim().split('\n')[0] ?? '';
  return firstLine(/^\/onnxruntime_src\/.* was false\. (.+)$/.exec(line)?.[1] ?? line);
}
