// The system BLAS, reached through koffi (an FFI whose prebuilt binaries ship inside its npm
// package: no compiler and no download at install time). Only single-precision GEMM is used:
// every matrix product of the cpu backend is one call of it, on typed arrays passed by pointer
// (koffi hands the C function the array's own memory; nothing is copied).
import { availableParallelism } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { secondThread, SPLIT_MIN_MACS } from './second-thread.ts';

/** A loaded BLAS: C[M,N] = alpha * op(A) @ op(B) + beta * C, all row-major. */
export interface Blas {
  /**
   * e.g. "OpenBLAS 0.3.21, SkylakeX kernel, 1 thread, large products split with a second thread
   * (libopenblas.so.0)"
   */
  readonly description: string;
  /**
   * op(A) is [M,K] (A stored [M,K] with row stride lda, or [K,M] when transA); op(B) is [K,N]
   * (B stored [K,N] with row stride ldb, or [N,K] when transB); C [M,N] with row stride ldc.
   * A, B and C start at the first element of the views given (use subarray for offsets).
   */
  sgemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number,
    alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
    beta: number, C: Float32Array, ldc: number,
  ): void;
}

/** The library tried, and why none was loaded when none was. */
export type BlasLoad = { blas: Blas; error?: undefined } | { blas?: undefined; error: string };

type Koffi = typeof import('koffi');
type LibraryHandle = import('koffi').LibraryHandle;

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

/** Where the system BLAS usually is, per platform; RPT_BLAS overrides. */
function candidates(): string[] {
  switch (process.platform) {
    case 'darwin':
      return ['/System/Library/Frameworks/Accelerate.framework/Accelerate', 'libopenblas.dylib'];
    case 'win32':
      return ['libopenblas.dll'];
    default:
      return ['libopenblas.so.0', 'libopenblas.so'];
  }
}

/**
 * The BLAS named by RPT_BLAS (a library path, or `none` for the TypeScript kernels), else the
 * first of the platform's usual libraries that loads and exports cblas_sgemm.
 */
export async function loadBlas(setting = process.env.RPT_BLAS): Promise<BlasLoad> {
  if (setting === 'none') return { error: 'RPT_BLAS=none' };
  let koffi: Koffi;
  try {
    koffi = await import('koffi');
  } catch (error) {
    return { error: `the FFI package koffi cannot load (${message(error)})` };
  }
  const names = setting ? [setting] : candidates();
  const failures: string[] = [];
  for (const name of names) {
    try {
      return { blas: bind(koffi, name) };
    } catch (error) {
      failures.push(`${name}: ${message(error)}`);
    }
  }
  const where = setting ? `RPT_BLAS=${setting}` : 'no system BLAS found';
  return { error: `${where} (${failures.join('; ')})` };
}

function bind(koffi: Koffi, name: string): Blas {
  const library = withSingleThreadedOpenBlas(() => koffi.load(name));
  const gemm = library.func(
    'void cblas_sgemm(int order, int transA, int transB, int M, int N, int K, float alpha, ' +
      'const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)',
  );
  let openblas = describeOpenBlas(library);
  if (openblas !== undefined && openblas.threads > 1 && !isMainThread && !threadsAsked()) {
    // loaded first by a worker thread, whose process.env the library does not see: its pool
    // started; every call runs on one thread all the same
    library.func('void openblas_set_num_threads(int threads)')(1);
    openblas = describeOpenBlas(library);
  }
  // The main thread lends its products' second halves to a helper when OpenBLAS is single-threaded.
  const second = isMainThread && openblas?.threads === 1 && availableParallelism() > 1 ? secondThread(name) : undefined;
  const helped = second ? ', large products split with a second thread' : '';
  return {
    description: `${openblas?.description ?? 'BLAS'}${helped} (${name})`,
    sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) {
      if (M === 0 || N === 0) return;
      const tA = transA ? CBLAS_TRANS : CBLAS_NO_TRANS, tB = transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
      if (second === undefined || Math.max(M, N) < 2 || M * N * K < SPLIT_MIN_MACS) {
        gemm(CBLAS_ROW_MAJOR, tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
      }
      const address = (array: Float32Array) => Number(koffi.address(array));
      // The longer side of C is split, so that each thread reads half of the larger operand:
      // sampling's few rows against a weight read half the weight each.
      if (M >= N) {
        // rows [0, half) of C here, rows [half, M) on the helper; op(A)'s rows are A's columns when transposed
        const half = M >> 1;
        const aRest = transA ? A.subarray(half) : A.subarray(half * lda);
        second.run(
          [CBLAS_ROW_MAJOR, tA, tB, M - half, N, K, alpha, address(aRest), lda, address(B), ldb, beta, address(C.subarray(half * ldc)), ldc],
          () => gemm(CBLAS_ROW_MAJOR, tA, tB, half, N, K, alpha, A, lda, B, ldb, beta, C, ldc),
        );
        return;
      }
      // columns [0, half) of C here, columns [half, N) on the helper; op(B)'s columns are B's rows when transposed
      const half = N >> 1;
      const bRest = transB ? B.subarray(half * ldb) : B.subarray(half);
      second.run(
        [CBLAS_ROW_MAJOR, tA, tB, M, N - half, K, alpha, address(A), lda, address(bRest), ldb, beta, address(C.subarray(half)), ldc],
        () => gemm(CBLAS_ROW_MAJOR, tA, tB, M, half, K, alpha, A, lda, B, ldb, beta, C, ldc),
      );
    },
  };
}

/**
 * Loads the library with OpenBLAS single-threaded unless OPENBLAS_NUM_THREADS (or
 * OMP_NUM_THREADS) says otherwise; OpenBLAS reads them once, when it loads. Its pthread build
 * starts a pool of threads then and registers a fork handler that stops the pool, and that
 * handler deadlocks when processes are spawned while other threads use the library (seen here:
 * a test process hung in blas_thread_shutdown_ under fork). Single-threaded it starts no pool;
 * the parallelism comes from the actor threads, and in the main thread from secondThread(). The
 * variable is set only for the load, so child processes inherit the user's environment. A worker
 * thread's process.env is a copy the library never sees, so the commands load it on the main
 * thread first (selectBackend does), before any actor thread.
 */
function withSingleThreadedOpenBlas<T>(load: () => T): T {
  if (threadsAsked()) return load();
  process.env.OPENBLAS_NUM_THREADS = '1';
  try {
    return load();
  } finally {
    delete process.env.OPENBLAS_NUM_THREADS;
  }
}

function threadsAsked(): boolean {
  return process.env.OPENBLAS_NUM_THREADS !== undefined || process.env.OMP_NUM_THREADS !== undefined;
}

/** OpenBLAS names its version, the kernel it chose for this processor and its thread count. */
function describeOpenBlas(library: LibraryHandle): { description: string; threads: number } | undefined {
  try {
    const config = library.func('const char *openblas_get_config()')() as string;
    const core = library.func('const char *openblas_get_corename()')() as string;
    const threads = library.func('int openblas_get_num_threads()')() as number;
    const version = config.split(' ')[1] ?? '';
    const forced = process.env.OPENBLAS_CORETYPE ? `, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}` : '';
    return { description: `OpenBLAS ${version}, ${core} kernel, ${threads} thread${threads === 1 ? '' : 's'}${forced}`, threads };
  } catch {
    return undefined; // another BLAS
  }
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
