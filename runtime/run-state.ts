import { readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointSteps, latestCheckpoint } from '../src/checkpoint/checkpoint.ts';
import { writeJson } from '../src/stages/cache.ts';
import type { StageDone } from '../src/stages/pipeline.ts';
import { unlessMissing } from '../src/util/missing.ts';

// What a run directory says about its run, for `rpt run` (which claims the folder, records how
// the run ended, and finds where it can resume) and `rpt status` (which summarises it).
//
// `<run>/run.json` is written by `rpt run`: the process that runs there and how its run ended.
// A run whose record says `running` but whose process is gone was killed (kill -9, a crash of
// the machine): it is interrupted, and `rpt run` resumes it from its checkpoints.

export const RUN_FILE = 'run.json';

export type RunEnd = 'finished' | 'interrupted' | 'failed';

export interface RunRecord {
  pid: number;
  file: string; // the experiment file, as given
  started: string; // ISO time
  updated: string;
  state: 'running' | RunEnd;
  message?: string; // why it failed, or where it was interrupted
}

export async function readRunRecord(runDir: string): Promise<RunRecord | null> {
  const path = join(runDir, RUN_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`${path}: cannot read (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message}); remove it if no rpt run is using ${runDir}`);
  }
}

/** Whether a process with this id exists (a record left by a killed run names a gone one). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/** The live process running in `runDir`, if another one is. */
export async function runningProcess(runDir: string): Promise<RunRecord | null> {
  const record = await readRunRecord(runDir);
  return record && record.state === 'running' && record.pid !== process.pid && processAlive(record.pid) ? record : null;
}

/** Records this process as running in `runDir`; refuses when another live process is. */
export async function claimRun(runDir: string, file: string): Promise<RunRecord> {
  const other = await runningProcess(runDir);
  if (other) throw new Error(`${runDir} is in use by another rpt run (pid ${other.pid}, started ${other.started}); stop it first`);
  const now = new Date().toISOString();
  const record: RunRecord = { pid: process.pid, file, started: now, updated: now, state: 'running' };
  await writeJson(join(runDir, RUN_FILE), record);
  return record;
}

export async function endRun(runDir: string, record: RunRecord, state: RunEnd, message?: string): Promise<void> {
  await writeJson(join(runDir, RUN_FILE), { ...record, updated: new Date().toISOString(), state, ...(message !== undefined && { message }) });
}

/**
 * `--fresh`: renames `runDir` to `<runDir>.<time>` beside it, so that nothing of the old run is
 * lost, and returns the new name; null when there was no run directory.
 */
export async function moveRunAside(runDir: string): Promise<string | null> {
  if ((await unlessMissing(stat(runDir), null)) === null) return null;
  const other = await runningProcess(runDir);
  if (other) throw new Error(`${runDir} is in use by another rpt run (pid ${other.pid}); stop it before starting afresh`);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const aside = `${runDir}.${stamp}`;
  await rename(runDir, aside);
  return aside;
}

export interface StageFolder {
  folder: string; // e.g. `rpt-1a2b3c4d5e6f`
  name: string; // the folder's name without the hash: `rpt`, `pretrain-base`, `entropy`
  dir: string;
  done: StageDone | null; // null while unfinished; also for the entropy scores, which are no stage result of their own
  checkpoints: number[]; // steps, ascending
}

/** Every stage folder of a run, in the order the stages run, with its result and checkpoints. */
export async function stageFolders(runDir: string): Promise<StageFolder[]> {
  const names = await unlessMissing(readdir(join(runDir, 'stages')), []);
  const folders: StageFolder[] = [];
  for (const folder of names) {
    const match = /^(.+)-[0-9a-f]{12}$/.exec(folder);
    if (!match) continue;
    const dir = join(runDir, 'stages', folder);
    const kind = stageKind(match[1]);
    let done: StageDone | null = null;
    try {
      const { result } = JSON.parse(await readFile(join(dir, 'done.json'), 'utf8')) as { result: StageDone['result'] };
      if (kind !== null) done = { stage: kind, result } as StageDone;
    } catch {
      // no done.json yet (unfinished), or one the stage itself will refuse with its reason
    }
    folders.push({ folder, name: match[1], dir, done, checkpoints: await checkpointSteps(dir) });
  }
  // Entropy scores come just before the filter that reads them; anything unknown goes last.
  const rank = (f: StageFolder) => {
    const kind = stageKind(f.name);
    if (kind) return STAGE_ORDER.indexOf(kind);
    return f.name === 'entropy' ? STAGE_ORDER.indexOf('filter') - 0.5 : STAGE_ORDER.length;
  };
  return folders.sort((a, b) => rank(a) - rank(b) || a.folder.localeCompare(b.folder));
}

const STAGE_ORDER: StageDone['stage'][] = ['tokenizer', 'data', 'pretrain', 'filter', 'eval', 'rpt', 'rpt-eval'];

/** The stage a folder's name prefix holds: `pretrain-base` is pre-training; entropy scores are part of the filter. */
function stageKind(prefix: string): StageDone['stage'] | null {
  if (prefix.startsWith('pretrain-')) return 'pretrain';
  return (STAGE_ORDER as string[]).includes(prefix) ? (prefix as StageDone['stage']) : null;
}

/** The newest checkpoint of the run's unfinished stages (where a stopped run resumes), if any. */
export async function resumePoint(runDir: string): Promise<{ dir: string; step: number; mtimeMs: number } | null> {
  let newest: { dir: string; step: number; mtimeMs: number } | null = null;
  for (const folder of await stageFolders(runDir)) {
    if (folder.done) continue;
    const latest = await latestCheckpoint(folder.dir);
    if (!latest) continue;
    const { mtimeMs } = await stat(latest.dir);
    if (!newest || mtimeMs > newest.mtimeMs) newest = { ...latest, mtimeMs };
  }
  return newest;
}

export type MetricsLine = Record<string, unknown> & { stage?: string; step?: number };

/** metrics.jsonl's lines, and the numbers of those that are not JSON (a line cut short). */
export async function readMetrics(runDir: string): Promise<{ lines: MetricsLine[]; broken: number[] }> {
  const text = await unlessMissing(readFile(join(runDir, 'metrics.jsonl'), 'utf8'), null);
  if (text === null) return { lines: [], broken: [] };
  const lines: MetricsLine[] = [];
  const broken: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      lines.push(JSON.parse(line));
    } catch {
      broken.push(i + 1);
    }
  });
  return { lines, broken };
}

export type RunState = 'running' | 'finished' | 'interrupted' | 'failed' | 'not started';

export interface RunSummary {
  runDir: string;
  record: RunRecord | null;
  state: RunState;
  why: string; // how the state was told
  stages: StageFolder[];
  current: { stage: string; step: number } | null; // the last step recorded in metrics.jsonl
  lastRpt: MetricsLine | null; // the newest RPT step line
  configVersions: { version: number; step: number; values: MetricsLine }[]; // from the rpt-config lines
  report: string | null; // report.md, once written
  brokenMetricsLines: number[];
}

export async function summariseRun(runDir: string): Promise<RunSummary> {
  const [record, stages, metrics] = await Promise.all([readRunRecord(runDir), stageFolders(runDir), readMetrics(runDir)]);
  const stepLines = metrics.lines.filter((line) => typeof line.step === 'number' && typeof line.stage === 'string');
  const last = stepLines.at(-1);
  const rptLines = metrics.lines.filter((line) => line.stage === 'rpt');
  const configVersions = metrics.lines.filter((line) => line.stage === 'rpt-config').map((line) => {
    const { stage: _s, step, config_version: version, time: _t, ...values } = line;
    return { version: version as number, step: step as number, values };
  });
  const report = join(runDir, 'report.md');
  const reportExists = await stat(report).then(() => true, () => false);
  let state: RunState;
  let why: string;
  if (record?.state === 'running' && (record.pid === process.pid || processAlive(record.pid))) [state, why] = ['running', `rpt run, pid ${record.pid}, since ${record.started}`];
  else if (record?.state === 'running') [state, why] = ['interrupted', `its process (pid ${record.pid}) ended without recording how: killed?`];
  else if (record) [state, why] = [record.state, record.message ?? `rpt run, ${record.updated}`];
  else if (reportExists) [state, why] = ['finished', 'report.md is written (run by rpt stage)'];
  else if (stages.length > 0) [state, why] = ['interrupted', 'stages are unfinished and no rpt run records the run (run by rpt stage?)'];
  else [state, why] = ['not started', 'no stage has written anything'];
  return {
    runDir,
    record,
    state,
    why,
    stages,
    current: last ? { stage: String(last.stage === 'pretrain' && last.model ? `pretrain ${last.model}` : last.stage), step: last.step as number } : null,
    lastRpt: rptLines.at(-1) ?? null,
    configVersions,
    report: reportExists ? report : null,
    brokenMetricsLines: metrics.broken,
  };
}
