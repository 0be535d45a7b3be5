import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

// User corpus paths: files, directories (searched recursively) and globs (`*`, `?`, `[abc]`
// within one path segment, `**` for any number of directories). Results keep the order of the
// patterns; within a directory or glob they are sorted, so a corpus reads the same every run.

const CORPUS_EXTENSIONS = ['.txt', '.jsonl'];

export async function expandPaths(patterns: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const pattern of patterns) {
    for (const file of await expandPath(pattern)) if (!files.includes(file)) files.push(file);
  }
  return files;
}

async function expandPath(pattern: string): Promise<string[]> {
  if (isGlob(pattern)) {
    const segments = pattern.split('/');
    const firstMagic = segments.findIndex(isGlob);
    const base = segments.slice(0, firstMagic).join('/');
    const rest = segments.slice(firstMagic).join('/');
    const matcher = globToRegExp(rest);
    const absolute = pattern.startsWith('/');
    const root = base !== '' ? base : absolute ? '/' : '.';
    const prefix = base !== '' ? `${base}/` : absolute ? '/' : '';
    // Without `**` a glob cannot match deeper than its own segments: no need to walk further.
    const depth = rest.includes('**') ? Infinity : segments.length - firstMagic;
    const matches = (await isDirectory(root)) ? (await walk(root, depth)).filter((relative) => matcher.test(relative)) : [];
    const files = matches.filter(hasCorpusExtension).map((relative) => prefix + relative);
    if (files.length === 0) throw new Error(`no ${CORPUS_EXTENSIONS.join(' or ')} files match ${pattern}`);
    return files;
  }
  const info = await stat(pattern).catch(() => null);
  if (info === null) throw new Error(`${pattern}: no such file or directory`);
  if (info.isDirectory()) {
    const files = (await walk(pattern)).filter(hasCorpusExtension).map((relative) => join(pattern, relative));
    if (files.length === 0) throw new Error(`${pattern}: directory holds no ${CORPUS_EXTENSIONS.join(' or ')} files`);
    return files;
  }
  if (!hasCorpusExtension(pattern)) throw new Error(`${pattern}: unsupported file type (expected ${CORPUS_EXTENSIONS.join(' or ')})`);
  return [pattern];
}

function isGlob(text: string): boolean {
  return /[*?[]/.test(text);
}

function hasCorpusExtension(path: string): boolean {
  return CORPUS_EXTENSIONS.some((extension) => path.endsWith(extension));
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

// Every file below `directory` down to `depth` levels, as sorted paths relative to it; symbolic
// links to directories are not followed (they could loop).
async function walk(directory: string, depth = Infinity): Promise<string[]> {
  const files: string[] = [];
  const entries = (await readdir(directory, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) {
      if (depth > 1) for (const inner of await walk(path, depth - 1)) files.push(`${entry.name}/${inner}`);
    }
    else if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path).catch(() => null))?.isFile())) files.push(entry.name);
  }
  return files;
}

export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i];
    if (glob.startsWith('**/', i)) {
      source += '(?:[^/]*/)*';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      source += '.*';
      i += 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new Error(`glob ${glob}: unclosed [`);
      const body = glob.slice(i + 1, close);
      source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
      i = close;
    } else source += char.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
