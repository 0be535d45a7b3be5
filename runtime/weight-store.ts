// Policy weights shared between the learner and the samplers without copies through
// postMessage: one SharedArrayBuffer that every worker maps, guarded by a seqlock. A writer
// makes the sequence odd, copies the weights in, stores the version and makes the sequence even
// again; a reader copies out between two reads of the sequence and keeps the copy only when both
// reads are the same even number, so a reader never returns a torn (half old, half new) version.
// Readers never block the writer; a reader that overlaps a write simply copies again.
//
// Layout: Int32 header [sequence, version], then the Float32 weights.

const SEQUENCE = 0;
const VERSION = 1;
const HEADER_BYTES = 8;

export class WeightStore {
  readonly buffer: SharedArrayBuffer;
  readonly length: number; // number of parameters
  private readonly header: Int32Array;
  private readonly weights: Float32Array;

  /** A store for `length` parameters, with no version published yet. */
  static create(length: number): WeightStore {
    return new WeightStore(new SharedArrayBuffer(HEADER_BYTES + 4 * length));
  }

  /** The same store seen from another worker (the buffer arrives there through workerData or a message). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.length = (buffer.byteLength - HEADER_BYTES) / 4;
    this.header = new Int32Array(buffer, 0, 2);
    this.weights = new Float32Array(buffer, HEADER_BYTES, this.length);
  }

  /** Makes `flat` the latest weights, as `version` (a positive integer, larger than the last one). */
  publish(flat: Float32Array, version: number): void {
    if (flat.length !== this.length) throw new Error(`weight store holds ${this.length} parameters, was given ${flat.length}`);
    // Taking the sequence from even to odd is the write lock, so two writers never interleave.
    for (;;) {
      const sequence = Atomics.load(this.header, SEQUENCE);
      if (sequence % 2 === 0 && Atomics.compareExchange(this.header, SEQUENCE, sequence, sequence + 1) === sequence) break;
    }
    const latest = Atomics.load(this.header, VERSION);
    if (!Number.isInteger(version) || version <= latest || version > 0x7fffffff) {
      Atomics.sub(this.header, SEQUENCE, 1);
      throw new Error(`weight version ${version} must be an integer above the latest, ${latest}`);
    }
    this.weights.set(flat);
    Atomics.store(this.header, VERSION, version);
    Atomics.add(this.header, SEQUENCE, 1);
  }

  /** Copies the latest complete weights into `into` and returns their version; 0 (and no copy) when none is published. */
  readLatest(into: Float32Array): number {
    if (into.length !== this.length) throw new Error(`weight store holds ${this.length} parameters, was given room for ${into.length}`);
    for (;;) {
      const before = Atomics.load(this.header, SEQUENCE);
      if (before % 2 === 1) continue; // a write is under way
      const version = Atomics.load(this.header, VERSION);
      if (version === 0) return 0;
      into.set(this.weights);
      if (Atomics.load(this.header, SEQUENCE) === before) return version;
    }
  }

  /** The latest published version, without copying: a sampler checks it to skip a pull it does not need. */
  latestVersion(): number {
    return Atomics.load(this.header, VERSION);
  }
}
