import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

// Files matching a pattern with `*` and `?` (within one path segment) and `**` (any number of
// segments), relative to `baseDir`; a pattern without wildcards names one file. Sorted, so every
// reader of a corpus sees the same order.
export function expandGlob(pattern: string, baseDir: string): string[] {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
  const matches: string[] = [];
  walk(absolute ? '/' : baseDir, absolute ? '/' : '', segments);
  return matches.sort();

  function walk(directory: string, relative: string, rest: string[]): void {
    if (rest.length === 0) {
      if (kindOf(directory) === 'file') matches.push(relative);
      return;
    }
    const [segment, ...tail] = rest;
    if (segment === '**') {
      walk(directory, relative, tail);
      for (const name of subdirectories(directory)) walk(join(directory, name), join(relative, name), rest);
      return;
    }
    if (!/[*?]/.test(segment)) return walk(join(directory, segment), join(relative, segment), tail);
    const regex = new RegExp(`^${segment.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
    for (const name of entries(directory)) if (regex.test(name)) walk(join(directory, name), join(relative, name), tail);
  }
}

function entries(directory: string): string[] {
  try {
    return readdirSync(directory).filter((name) => !name.startsWith('.'));
  } catch {
    return [];
  }
}

function subdirectories(directory: string): string[] {
  return entries(directory).filter((name) => kindOf(join(directory, name)) === 'directory');
}

function kindOf(path: string): 'file' | 'directory' | null {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : null;
  } catch {
    return null;
  }
}
