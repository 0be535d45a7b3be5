import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes a file so that `path` holds either its previous contents or the complete new ones,
 * never a part: `write` fills a temporary file beside it, which is flushed to disk and then
 * renamed over `path`. On any failure the temporary file is removed and the error rethrown.
 */
export async function writeFileAtomically(path: string, write: (file: FileHandle) => Promise<void>): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let file: FileHandle | undefined;
  try {
    file = await open(temp, 'wx');
    await write(file);
    await file.sync();
    await file.close();
    file = undefined;
    await rename(temp, path);
  } catch (err) {
    await file?.close().catch(() => {}); // the write error is the one worth reporting
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}

/** Flushes a directory's entries, so that a rename into it survives a power loss. */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened there; NTFS journals renames
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
