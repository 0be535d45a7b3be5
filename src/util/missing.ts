/** What `read` gives, or `fallback` when the path it reads does not exist; every other error propagates. */
export async function unlessMissing<T, F>(read: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await read;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  }
}
