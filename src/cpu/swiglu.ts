// SwiGLU gating of the Llama MLP: silu(gate) * up, silu(x) = x * sigmoid(x).
import { exp } from './exp.ts';

/** out[N,H] = silu(gate) * up */
export function swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, N: number, H: number): void {
  for (let i = 0; i < N * H; i++) {
    const g = gate[i];
    out[i] = (g / (1 + exp(-g))) * up[i];
  }
}

/** dgate[N,H] +=, dup[N,H] += */
export function swigluBackward(
  dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, N: number, H: number,
): void {
  for (let i = 0; i < N * H; i++) {
    const g = gate[i];
    const sigmoid = 1 / (1 + exp(-g));
    const silu = g * sigmoid;
    dgate[i] += dout[i] * up[i] * (sigmoid + silu * (1 - sigmoid));
    dup[i] += dout[i] * silu;
  }
}
