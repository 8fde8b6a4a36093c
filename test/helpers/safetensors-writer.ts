/**
 * A minimal safetensors writer for test checkpoints: F32, or F16 / BF16 rounded to nearest even
 * by the conversions here (Node 20 has no Float16Array).
 */

export type StoredDtype = 'F32' | 'F16' | 'BF16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of a number rounded to float32 and then to nearest-even half. */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    const remainder = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    let quotient = significand >>> shift;
    if (remainder > halfway || (remainder === halfway && (quotient & 1) === 1)) quotient += 1;
    return sign | quotient;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1; // may carry into the exponent
  return sign | half;
}

export function fromFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** bfloat16 bits: the float32's upper half, rounded to nearest even. */
export function toBfloat16Bits(value: number): number {
  f32[0] = value;
  const bits = u32[0]!;
  if (Number.isNaN(f32[0])) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function fromBfloat16Bits(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

const BYTES: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * One safetensors file: 8-byte little-endian header length, the JSON header padded with spaces to
 * a multiple of 8, then the tensors back to back in the order given. `stored` holds the values as
 * written (after rounding to F16/BF16).
 */
export function encodeSafetensors(
  tensors: readonly NamedTensor[],
  dtype: StoredDtype,
): { bytes: Buffer; stored: Map<string, Float32Array>; dataBytes: number } {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((product, size) => product * size, 1);
    if (count !== tensor.data.length)
      throw new Error(`${tensor.name}: shape ${tensor.shape.join('x')} does not hold ${tensor.data.length} values`);
    const end = offset + count * BYTES[dtype];
    header[tensor.name] = { dtype, shape: tensor.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (Buffer.byteLength(headerText) % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const bytes = Buffer.alloc(8 + headerBytes.length + offset);
  bytes.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(bytes, 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset + 8 + headerBytes.length, offset);
  const stored = new Map<string, Float32Array>();
  let position = 0;
  for (const tensor of tensors) {
    const values = new Float32Array(tensor.data.length);
    tensor.data.forEach((value, index) => {
      if (dtype === 'F32') {
        view.setFloat32(position, value, true);
        values[index] = value;
      } else if (dtype === 'F16') {
        const bits = toFloat16Bits(value);
        view.setUint16(position, bits, true);
        values[index] = fromFloat16Bits(bits);
      } else {
        const bits = toBfloat16Bits(value);
        view.setUint16(position, bits, true);
        values[index] = fromBfloat16Bits(bits);
      }
      position += BYTES[dtype];
    });
    stored.set(tensor.name, values);
  }
  return { bytes, stored, dataBytes: offset };
}
