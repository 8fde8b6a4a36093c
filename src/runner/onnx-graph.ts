/**
 * Builds an ONNX graph node by node with generated value names, small constants inline and
 * weights as external data, of two kinds:
 * - referenced in place (`fileWeight`): a tensor's bytes where the checkpoint's file holds them,
 *   which onnxruntime reads itself (mapping the file where it can). The model, built in memory,
 *   names its external folder in the session option
 *   `session.model_external_initializers_file_folder_path` (session.ts): ORT refuses external paths
 *   outside the model's folder, and that option is the model's folder for a model loaded from
 *   bytes. One folder per model, so weights from a second folder are read instead.
 * - in memory (`weight`, `rawWeight`): converted, dequantised, merged or computed values, handed to
 *   onnxruntime as in-memory external data (one location per weight).
 * onnxruntime takes one or the other: given in-memory external data, it refuses a location not in
 * it. So a model with weights of both kinds carries the in-memory ones inline in its bytes (RoPE
 * tables, LoRA branches: small) up to INLINE_LIMIT, and past that reads the file weights into
 * memory too (a merged LoRA on a large model).
 */
import { realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { float32ToHalf } from './float16.js';
import { DataType, encodeModel, type Attribute, type NodeProto, type TensorProto, type ValueInfo } from './onnx-proto.js';
import { readTensorBytes } from './safetensors.js';

export type FloatType = 'float32' | 'float16';

/** In-memory weights a model with file weights carries inline: well under protobuf's 2 GiB limit on the model's bytes. */
export const INLINE_LIMIT = 2 ** 30;

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

/** A tensor's bytes in a file: where `fileWeight` points the graph. */
export interface FileBytes {
  readonly file: string;
  readonly offset: number;
  readonly byteLength: number;
}

export interface BuiltModel {
  readonly model: Uint8Array;
  readonly externalData: readonly ExternalWeight[];
  /** The folder of the weights referenced in place (their locations are file names in it); none when all are in memory. */
  readonly externalFolder?: string;
  /** Bytes of weights, for reports (the bandwidth bound of a decode step). */
  readonly weightBytes: number;
  /** Of those, the bytes referenced in place in the checkpoint's files. */
  readonly inPlaceBytes: number;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly external: ExternalWeight[] = [];
  /** By location: the file bytes of each weight referenced in place. */
  private readonly inPlace = new Map<string, FileBytes>();
  private externalFolder: string | undefined;
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

  /**
   * A weight of the graph's float type referenced where a file holds its bytes (already of that
   * type, row-major, `dims`), not read here; undefined when the file is in another folder than the
   * file weights before it (the caller reads that one into memory instead).
   */
  fileWeight(name: string, dims: readonly number[], bytes: FileBytes): string | undefined {
    // onnxruntime checks the path after following links: a Hugging Face cache snapshot's files are
    // links into its blobs folder, which is then the model's folder
    const file = realpathSync(bytes.file);
    const folder = dirname(file);
    if (this.externalFolder !== undefined && this.externalFolder !== folder) return undefined;
    this.externalFolder = folder;
    this.initializers.push({ name, dims, dataType: this.floatDataType, external: { location: basename(file), offset: bytes.offset, length: bytes.byteLength } });
    this.inPlace.set(`${basename(file)}@${bytes.offset}`, bytes);
    this.weightBytes += bytes.byteLength;
    return name;
  }

  /** The model; `inlineLimit` (INLINE_LIMIT unless told) bounds the in-memory weights a model with file weights carries inline. */
  build(opsets: Readonly<Record<string, number>>, { inlineLimit = INLINE_LIMIT }: { inlineLimit?: number } = {}): BuiltModel {
    const encode = (initializers: readonly TensorProto[]) => encodeModel({ graph: { name: this.name, nodes: this.nodes, initializers, inputs: this.inputs, outputs: this.outputs }, opsets });
    const inPlaceBytes = [...this.inPlace.values()].reduce((sum, bytes) => sum + bytes.byteLength, 0);
    const weightBytes = this.weightBytes;
    if (this.externalFolder === undefined || this.external.length === 0) {
      return { model: encode(this.initializers), externalData: this.external, weightBytes, inPlaceBytes, ...(this.externalFolder !== undefined ? { externalFolder: this.externalFolder } : {}) };
    }
    const inMemory = new Map(this.external.map((weight) => [weight.path, weight.data]));
    const inMemoryBytes = this.external.reduce((sum, weight) => sum + weight.data.length, 0);
    if (inMemoryBytes <= inlineLimit) {
      const initializers = this.initializers.map((tensor) => {
        const data = tensor.external !== undefined ? inMemory.get(tensor.external.location) : undefined;
        return data === undefined ? tensor : { name: tensor.name, dims: tensor.dims, dataType: tensor.dataType, bytes: data };
      });
      return { model: encode(initializers), externalData: [], externalFolder: this.externalFolder, weightBytes, inPlaceBytes };
    }
    // too much for the model's bytes: every weight in memory, the file ones read now
    const external = [...this.external];
    const initializers = this.initializers.map((tensor) => {
      const bytes = tensor.external !== undefined ? this.inPlace.get(`${tensor.external.location}@${tensor.external.offset}`) : undefined;
      if (tensor.external === undefined || bytes === undefined || inMemory.has(tensor.external.location)) return tensor;
      const location = `weight-${external.length}`;
      external.push({ path: location, data: readTensorBytes({ name: tensor.name, ...bytes }) });
      return { ...tensor, external: { location, offset: 0, length: bytes.byteLength } };
    });
    return { model: encode(initializers), externalData: external, weightBytes, inPlaceBytes: 0 };
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
