// Exact widening of 16-bit floats to f32, bit by bit, so that -0, subnormals, infinities and NaN
// payloads survive. Every f16 and bf16 value is representable in f32, so nothing is rounded.

/** out[i] = the IEEE 754 binary16 value whose bits are halves[i] */
export function f16ToF32(out: Float32Array, halves: Uint16Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < halves.length; i++) bits[i] = f16BitsToF32Bits(halves[i]);
}

/** out[i] = the bfloat16 value whose bits are halves[i] (the top half of an f32) */
export function bf16ToF32(out: Float32Array, halves: Uint16Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
}

function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  let mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf, or NaN keeping its payload
  if (exponent !== 0) return (sign | ((exponent - 15 + 127) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0;
  // Subnormal: mantissa * 2^-24. Shift until the implicit leading bit appears, lowering the exponent.
  let shift = 0;
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1;
    shift++;
  }
  return (sign | ((127 - 14 - shift) << 23) | ((mantissa & 0x3ff) << 13)) >>> 0;
}
