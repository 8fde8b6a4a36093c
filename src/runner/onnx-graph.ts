/**
 * Builds an ONNX graph node by node with generated value names, small constants inline and
 * weights as external data. Weights are handed to onnxruntime as in-memory external data (one
 * location per weight): ORT refuses external files outside the model's folder, and a generated
 * model has no folder next to the checkpoint it reads.
 */
import { float32ToHalf } from './float16.js';
import { DataType, encodeModel, type Attribute, type NodeProto, type TensorProto, type ValueInfo } from './onnx-proto.js';

export type FloatType = 'float32' | 'float16';

export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

/** What onnxruntime-node's `externalData` session option takes. */
export interface ExternalWeight {
  readonly path: string;
  readonly data: Uint8Array;
}

export interface BuiltModel {
  readonly model: Uint8Array;
  readonly externalData: readonly ExternalWeight[];
  /** Bytes of weights, for reports (the bandwidth bound of a decode step). */
  readonly weightBytes: number;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly external: ExternalWeight[] = [];
  private counter = 0;
  private weightBytes = 0;
  readonly floatDataType: DataType;

  constructor(
    readonly name: string,
    readonly floatType: FloatType,
  ) {
    this.floatDataType = floatType === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  }

  input(name: string, elemType: DataType, dims: readonly (number | string)[]): string {
    this.inputs.push({ name, elemType, dims });
    return name;
  }

  /** Declares `name` (the output of a node) as a graph output. */
  output(name: string, elemType: DataType, dims: readonly (number | string)[]): void {
    this.outputs.push({ name, elemType, dims });
  }

  /** Adds a node and returns its first output (named `names[0]` when given). */
  op(op: string, inputs: readonly string[], attributes: Readonly<Record<string, Attribute>> = {}, options: { names?: readonly string[]; outputs?: number; domain?: string } = {}): string {
    return this.opOutputs(op, inputs, attributes, options)[0] as string;
  }

  opOutputs(op: string, inputs: readonly string[], attributes: Readonly<Record<string, Attribute>> = {}, options: { names?: readonly string[]; outputs?: number; domain?: string } = {}): string[] {
    const outputs = options.names !== undefined ? [...options.names] : Array.from({ length: options.outputs ?? 1 }, () => `${op}_${this.counter++}`);
    this.nodes.push({ op, inputs, outputs, name: `${op}_node_${this.counter++}`, attributes, ...(options.domain !== undefined ? { domain: options.domain } : {}) });
    return outputs;
  }

  /** An inline int64 constant (shapes, axes, indices). */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((value) => BigInt(value)));
    return this.inline(DataType.INT64, dims, new Uint8Array(data.buffer));
  }

  /** An inline constant of the graph's float type. */
  floats(values: readonly number[] | Float32Array, dims: readonly number[] = [values.length]): string {
    return this.inline(this.floatDataType, dims, this.floatBytes(Float32Array.from(values)));
  }

  /** A weight of the graph's float type, kept out of the model bytes (external data). */
  weight(name: string, dims: readonly number[], values: Float32Array): string {
    return this.rawWeight(name, this.floatDataType, dims, this.floatBytes(values));
  }

  /** A weight stored as given (packed quantised blocks), kept out of the model bytes like `weight`. */
  rawWeight(name: string, dataType: DataType, dims: readonly number[], bytes: Uint8Array): string {
    const location = `weight-${this.external.length}`;
    this.external.push({ path: location, data: bytes });
    this.initializers.push({ name, dims, dataType, external: { location, offset: 0, length: bytes.length } });
    this.weightBytes += bytes.length;
    return name;
  }

  build(opsets: Readonly<Record<string, number>>): BuiltModel {
    const model = encodeModel({ graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs }, opsets });
    return { model, externalData: this.external, weightBytes: this.weightBytes };
  }

  private inline(dataType: DataType, dims: readonly number[], bytes: Uint8Array): string {
    const name = `const_${this.counter++}`;
    this.initializers.push({ name, dims, dataType, bytes });
    return name;
  }

  private floatBytes(values: Float32Array): Uint8Array {
    const typed = this.floatType === 'float16' ? float32ToHalf(values) : values;
    return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  }
}
