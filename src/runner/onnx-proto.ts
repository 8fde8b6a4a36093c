/**
 * Encodes ONNX models (the ModelProto subset a generated graph needs) as protobuf bytes, with no
 * dependency: field numbers from onnx/onnx.proto3. Weights are not embedded: every large
 * initializer is external data, so a model of any size encodes to a few hundred KB.
 */

export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

export type Attribute =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorProto }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: readonly number[] };

/** A tensor with its bytes inline, or stored at `location` (relative to the model) as external data. */
export interface TensorProto {
  readonly name: string;
  readonly dims: readonly number[];
  readonly dataType: DataType;
  readonly bytes?: Uint8Array;
  readonly external?: { readonly location: string; readonly offset: number; readonly length: number };
}

export interface NodeProto {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name: string;
  readonly domain?: string;
  readonly attributes?: Readonly<Record<string, Attribute>>;
}

/** A graph input or output: element type and dimensions, each a size or a symbolic name. */
export interface ValueInfo {
  readonly name: string;
  readonly elemType: DataType;
  readonly dims: readonly (number | string)[];
}

export interface GraphProto {
  readonly name: string;
  readonly nodes: readonly NodeProto[];
  readonly initializers: readonly TensorProto[];
  readonly inputs: readonly ValueInfo[];
  readonly outputs: readonly ValueInfo[];
}

export interface ModelProto {
  readonly graph: GraphProto;
  /** Operator sets by domain ('' is the default ONNX domain). */
  readonly opsets: Readonly<Record<string, number>>;
  readonly irVersion?: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_BYTES = 2;

/** Appends protobuf fields to a growing list of chunks. */
class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  varint(value: number | bigint): void {
    let rest = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    do {
      let byte = Number(rest & 0x7fn);
      rest >>= 7n;
      if (rest !== 0n) byte |= 0x80;
      bytes.push(byte);
    } while (rest !== 0n);
    this.bytes(Uint8Array.from(bytes));
  }

  bytes(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, value: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.bytes(bytes);
  }

  string(field: number, value: string): void {
    this.raw(field, new TextEncoder().encode(value));
  }

  raw(field: number, bytes: Uint8Array): void {
    this.tag(field, WIRE_BYTES);
    this.varint(bytes.length);
    this.bytes(bytes);
  }

  message(field: number, write: (writer: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.raw(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

function writeTensor(writer: ProtoWriter, tensor: TensorProto): void {
  for (const dim of tensor.dims) writer.int(1, dim);
  writer.int(2, tensor.dataType);
  writer.string(8, tensor.name);
  if (tensor.external !== undefined) {
    const entries: [string, string][] = [
      ['location', tensor.external.location],
      ['offset', String(tensor.external.offset)],
      ['length', String(tensor.external.length)],
    ];
    for (const [key, value] of entries) {
      writer.message(13, (entry) => {
        entry.string(1, key);
        entry.string(2, value);
      });
    }
    writer.int(14, 1); // data_location = EXTERNAL
    return;
  }
  writer.raw(9, tensor.bytes ?? new Uint8Array(0)); // raw_data
}

function writeValueInfo(writer: ProtoWriter, info: ValueInfo): void {
  writer.string(1, info.name);
  writer.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, info.elemType);
      tensorType.message(2, (shape) => {
        for (const dim of info.dims) shape.message(1, (entry) => (typeof dim === 'string' ? entry.string(2, dim) : entry.int(1, dim)));
      });
    }),
  );
}

function writeAttribute(writer: ProtoWriter, name: string, attribute: Attribute): void {
  writer.string(1, name);
  switch (attribute.kind) {
    case 'float':
      writer.int(20, 1);
      writer.float(2, attribute.value);
      break;
    case 'int':
      writer.int(20, 2);
      writer.int(3, attribute.value);
      break;
    case 'string':
      writer.int(20, 3);
      writer.raw(4, new TextEncoder().encode(attribute.value));
      break;
    case 'tensor':
      writer.int(20, 4);
      writer.message(5, (tensor) => writeTensor(tensor, attribute.value));
      break;
    case 'floats':
      writer.int(20, 6);
      for (const value of attribute.value) writer.float(7, value);
      break;
    case 'ints':
      writer.int(20, 7);
      for (const value of attribute.value) writer.int(8, value);
      break;
  }
}

function writeNode(writer: ProtoWriter, node: NodeProto): void {
  for (const input of node.inputs) writer.string(1, input);
  for (const output of node.outputs) writer.string(2, output);
  writer.string(3, node.name);
  writer.string(4, node.op);
  for (const [name, attribute] of Object.entries(node.attributes ?? {})) writer.message(5, (entry) => writeAttribute(entry, name, attribute));
  if (node.domain !== undefined && node.domain !== '') writer.string(7, node.domain);
}

export function encodeModel(model: ModelProto): Uint8Array {
  const writer = new ProtoWriter();
  writer.int(1, model.irVersion ?? 10);
  writer.string(2, 'toolbench');
  writer.message(7, (graph) => {
    for (const node of model.graph.nodes) graph.message(1, (entry) => writeNode(entry, node));
    graph.string(2, model.graph.name);
    for (const tensor of model.graph.initializers) graph.message(5, (entry) => writeTensor(entry, tensor));
    for (const input of model.graph.inputs) graph.message(11, (entry) => writeValueInfo(entry, input));
    for (const output of model.graph.outputs) graph.message(12, (entry) => writeValueInfo(entry, output));
  });
  for (const [domain, version] of Object.entries(model.opsets)) {
    writer.message(8, (opset) => {
      if (domain !== '') opset.string(1, domain);
      opset.int(2, version);
    });
  }
  return writer.finish();
}
