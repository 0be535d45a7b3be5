import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { checkFile } from '../dsl/check.ts';
import { renderDiagnostic, type Diagnostic } from '../dsl/diagnostics.ts';
import type { ExperimentIR } from '../dsl/ir.ts';

// Hot reload of an experiment file. The file's folder is watched rather than the file, because
// an editor that saves by writing a new file and renaming it over the old one replaces the inode
// a file watch would follow. Bursts of events (one save can make several) are gathered for
// `debounceMs`, then the file is checked again. A version that does not check is rejected with
// its diagnostics and the last good one stays; a good one is compared with the last good one,
// field by field, and each difference is classified: live (applied at the next step boundary,
// learner state kept) or structural (the graph restarts from the last checkpoint). The reward
// module's own file is watched as well: new code in it is a live change.

export type ChangeMode = 'live' | 'structural';

export interface ConfigChange {
  path: string; // IR path, e.g. `learner.lr`
  before: unknown; // undefined where the field did not exist
  after: unknown;
  mode: ChangeMode;
  description: string; // `learner.lr: 1e-4 -> 3e-4 (live: next step)`
}

export type ReloadEvent =
  | { kind: 'applied'; configVersion: number; ir: ExperimentIR; changes: ConfigChange[]; restart: boolean }
  | { kind: 'rejected'; configVersion: number; diagnostics: Diagnostic[] };

// IR paths whose changes a running graph takes at a step boundary; a path below one of these is
// live too (every field of `reward`). Everything else reshapes the graph or the model.
export const LIVE_PATHS = ['policy.temperature', 'policy.top_p', 'policy.top_k', 'reward', 'learner.lr', 'actors.samplers', 'actors.verifiers', 'eval.every'];

// The path a change of the reward module's code is reported under.
export const REWARD_MODULE_CODE = 'reward.module code';

export function classify(path: string): ChangeMode {
  return LIVE_PATHS.some((live) => path === live || path.startsWith(`${live}.`)) ? 'live' : 'structural';
}

/** Every difference between two experiments: objects of the same kind are compared field by field, anything else whole. */
export function diffExperiments(before: ExperimentIR, after: ExperimentIR): ConfigChange[] {
  const changes: ConfigChange[] = [];
  const visit = (path: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (isRecord(a) && isRecord(b) && a.kind === b.kind) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) visit(path ? `${path}.${key}` : key, a[key], b[key]);
      return;
    }
    changes.push(change(path, a, b));
  };
  visit('', before, after);
  return changes;
}

function change(path: string, before: unknown, after: unknown): ConfigChange {
  const mode = classify(path);
  const how = mode === 'live' ? 'live: next step' : 'structural: restart from the last checkpoint';
  return { path, before, after, mode, description: `${path}: ${show(before)} -> ${show(after)} (${how})` };
}

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  if (typeof value === 'number' && value !== 0 && Math.abs(value) < 1e-3) return value.toExponential();
  return JSON.stringify(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface WatchOptions {
  debounceMs?: number;
  overrides?: string[]; // `--set path=value` texts, applied to every version of the file
}

export class ExperimentWatcher {
  readonly path: string;
  configVersion = 1; // raised by each applied reload
  current: ExperimentIR; // the last good version
  private moduleHash: string | null;
  private readonly watchers = new Map<string, FSWatcher>(); // folder -> its watcher
  private files: string[] = []; // the experiment and its reward module, if any
  private timer: NodeJS.Timeout | undefined;
  private readonly debounceMs: number;
  private readonly overrides: string[];

  /** Checks `path` once (throwing with the diagnostics if it does not check), then watches it. */
  constructor(
    path: string,
    private readonly onReload: (event: ReloadEvent) => void,
    options: WatchOptions = {},
  ) {
    this.path = resolve(path);
    this.debounceMs = options.debounceMs ?? 100;
    this.overrides = options.overrides ?? [];
    const checked = checkFile(this.path, { overrides: this.overrides });
    if (!checked.ir) throw new Error(checked.diagnostics.map(renderDiagnostic).join('\n'));
    this.current = checked.ir;
    this.moduleHash = this.rewardModuleHash(checked.ir);
    this.watchFolders();
  }

  close(): void {
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  /** Checks the file again and reports what changed; called after each burst of file events. */
  reload(): void {
    const checked = checkFile(this.path, { overrides: this.overrides });
    if (!checked.ir) return this.onReload({ kind: 'rejected', configVersion: this.configVersion, diagnostics: checked.diagnostics });
    const changes = diffExperiments(this.current, checked.ir);
    const moduleHash = this.rewardModuleHash(checked.ir);
    const sameReward = JSON.stringify(this.current.reward) === JSON.stringify(checked.ir.reward);
    if (sameReward && moduleHash !== this.moduleHash) {
      const module = (checked.ir.reward as { path: string }).path;
      changes.push({ path: REWARD_MODULE_CODE, before: this.moduleHash, after: moduleHash, mode: 'live', description: `${REWARD_MODULE_CODE}: ${module} changed (live: next step)` });
    }
    if (changes.length === 0) return;
    this.current = checked.ir;
    this.moduleHash = moduleHash;
    this.configVersion++;
    this.watchFolders();
    this.onReload({ kind: 'applied', configVersion: this.configVersion, ir: checked.ir, changes, restart: changes.some((c) => c.mode === 'structural') });
  }

  private rewardModulePath(ir: ExperimentIR): string | null {
    return ir.reward.kind === 'module' ? resolve(dirname(this.path), ir.reward.path) : null;
  }

  private rewardModuleHash(ir: ExperimentIR): string | null {
    const module = this.rewardModulePath(ir);
    if (!module) return null;
    try {
      return createHash('sha256').update(readFileSync(module)).digest('hex');
    } catch {
      return null; // missing mid-save; the next event reads it again
    }
  }

  /** Watches the experiment's folder and the reward module's, each once. */
  private watchFolders(): void {
    this.files = [this.path, this.rewardModulePath(this.current)].filter((file): file is string => file !== null);
    const folders = new Set(this.files.map((file) => dirname(file)));
    for (const [folder, watcher] of this.watchers) {
      if (folders.has(folder)) continue;
      watcher.close();
      this.watchers.delete(folder);
    }
    for (const folder of folders) {
      if (this.watchers.has(folder)) continue;
      this.watchers.set(folder, watch(folder, (_event, name) => {
        if (name !== null && !this.files.some((file) => dirname(file) === folder && basename(file) === name)) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.reload(), this.debounceMs);
      }));
    }
  }
}
