import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkSource } from '../dsl/check.ts';
import { makeSource } from '../dsl/source.ts';
import { Mailbox } from '../runtime/mailbox.ts';
import { diffExperiments, ExperimentWatcher, type ReloadEvent } from '../runtime/reload.ts';

const QUICKSTART = readFileSync(new URL('../experiments/quickstart.rpt', import.meta.url), 'utf8');
const edit = (from: string, to: string, text = QUICKSTART) => {
  if (!text.includes(from)) throw new Error(`the experiment has no ${from}`);
  return text.replace(from, to);
};
const irOf = (text: string) => checkSource(makeSource('quickstart.rpt', text)).ir!;

describe('reload classification', () => {
  it('a temperature or learning-rate change is live, with a readable description', () => {
    const changes = diffExperiments(irOf(QUICKSTART), irOf(edit('lr 1e-4', 'lr 3e-4', edit('temperature 0.8', 'temperature 0.5'))));
    expect(changes.map((c) => [c.path, c.mode, c.description])).toEqual([
      ['policy.temperature', 'live', 'policy.temperature: 0.8 -> 0.5 (live: next step)'],
      ['learner.lr', 'live', 'learner.lr: 1e-4 -> 3e-4 (live: next step)'],
    ]);
  });

  it('a model-shape change is structural; a reward choice and the sampler count are live', () => {
    const changes = diffExperiments(irOf(QUICKSTART), irOf(edit('dim 32', 'dim 64', edit('reward prefix_match', 'reward first_token', edit('samplers 1', 'samplers 2')))));
    expect(changes.map((c) => c.description)).toEqual([
      'models.base.transformer.dim: 32 -> 64 (structural: restart from the last checkpoint)',
      'models.base.transformer.ffn: 96 -> 192 (structural: restart from the last checkpoint)', // derived from dim
      'reward: {"kind":"prefix_match"} -> {"kind":"first_token"} (live: next step)',
      'actors.samplers: 1 -> 2 (live: next step)',
    ]);
  });
});

describe('experiment watcher', () => {
  let folder: string;
  let file: string;
  let watcher: ExperimentWatcher | undefined;
  let events: Mailbox<ReloadEvent>;
  const start = () => (watcher = new ExperimentWatcher(file, (event) => void events.put(event), { debounceMs: 50 }));

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), 'rpt-reload-'));
    file = join(folder, 'experiment.rpt');
    writeFileSync(file, QUICKSTART);
    events = new Mailbox(100);
  });
  afterEach(() => {
    watcher?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it('refuses to start on a file that does not check, with the rendered diagnostics', () => {
    writeFileSync(file, edit('temperature 0.8', 'temperature hot'));
    expect(start).toThrow(/experiment\.rpt:\d+:\d+: error: /);
  });

  it('applies a live temperature change and raises the config version', async () => {
    start();
    writeFileSync(file, edit('temperature 0.8', 'temperature 0.5'));
    const event = await events.take();
    expect(event).toMatchObject({ kind: 'applied', configVersion: 2, restart: false });
    expect(event.kind === 'applied' && event.changes.map((c) => c.description)).toEqual(['policy.temperature: 0.8 -> 0.5 (live: next step)']);
    expect(watcher!.current.policy.temperature).toBe(0.5);
  });

  it('rejects a broken edit with its diagnostics, keeps the last good version, and takes the next good one', async () => {
    start();
    writeFileSync(file, edit('temperature 0.8', 'temperature hot'));
    const rejected = await events.take();
    expect(rejected.kind).toBe('rejected');
    expect(rejected.kind === 'rejected' && rejected.diagnostics.length).toBeGreaterThan(0);
    expect(watcher!.configVersion).toBe(1);
    expect(watcher!.current.policy.temperature).toBe(0.8);
    writeFileSync(file, edit('temperature 0.8', 'temperature 0.6'));
    expect(await events.take()).toMatchObject({ kind: 'applied', configVersion: 2 });
  });

  it('sees a save by rename (write elsewhere, rename over), and calls a model-shape change a restart', async () => {
    start();
    const temporary = join(folder, '.experiment.rpt.swp');
    writeFileSync(temporary, edit('dim 32', 'dim 64'));
    renameSync(temporary, file);
    const event = await events.take();
    expect(event).toMatchObject({ kind: 'applied', configVersion: 2, restart: true });
    expect(event.kind === 'applied' && event.changes.map((c) => [c.path, c.mode])).toEqual([
      ['models.base.transformer.dim', 'structural'],
      ['models.base.transformer.ffn', 'structural'],
    ]);
    // The watch survives the rename: the next save is seen too.
    writeFileSync(file, edit('dim 32', 'dim 64', edit('temperature 0.8', 'temperature 0.7')));
    expect(await events.take()).toMatchObject({ kind: 'applied', configVersion: 3, restart: false });
  });

  it('a change of the reward module code is a live change', async () => {
    const module = join(folder, 'reward.ts');
    writeFileSync(module, 'export default () => 1;\n');
    writeFileSync(file, edit('reward prefix_match', 'reward module "reward.ts"'));
    start();
    writeFileSync(module, 'export default () => 0.5;\n');
    const event = await events.take();
    expect(event).toMatchObject({ kind: 'applied', configVersion: 2, restart: false });
    expect(event.kind === 'applied' && event.changes.map((c) => [c.path, c.mode, c.description])).toEqual([
      ['reward.module code', 'live', 'reward.module code: reward.ts changed (live: next step)'],
    ]);
  });
});
