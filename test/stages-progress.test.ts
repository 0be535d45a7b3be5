// The progress display: one redrawn line on a terminal, throttled plain lines otherwise.
import { describe, expect, test } from 'vitest';
import { formatDuration, ProgressReporter } from '../src/stages/progress.ts';

function capture(isTTY: boolean) {
  const out = { text: '', isTTY, write: (text: string) => (out.text += text) };
  let clock = 0;
  const reporter = new ProgressReporter(out, 10_000, () => clock);
  return { out, reporter, advance: (ms: number) => (clock += ms) };
}

describe('progress reporter', () => {
  test('on a terminal, redraws one line with loss, speed and ETA, and ends it when the stage is done', () => {
    const { out, reporter, advance } = capture(true);
    reporter.update({ stage: 'pretrain base', step: 10, total: 100, loss: 2.5, tokensPerSecond: 1000 });
    advance(1000);
    reporter.update({ stage: 'pretrain base', step: 20, total: 100, loss: 2.25, tokensPerSecond: 1200 });
    expect(out.text).toBe('\r\x1b[2Kpretrain base 10/100  loss 2.5000  1000 tok/s' + '\r\x1b[2Kpretrain base 20/100  loss 2.2500  1200 tok/s  ETA 8s');
    advance(8000);
    reporter.update({ stage: 'pretrain base', step: 100, total: 100 });
    expect(out.text.endsWith('\r\x1b[2Kpretrain base 100/100\n')).toBe(true);
  });

  test('elsewhere, prints a plain line at most every interval, and always the last step', () => {
    const { out, reporter, advance } = capture(false);
    for (let step = 1; step <= 30; step++) {
      reporter.update({ stage: 'entropy train', step, total: 30 });
      advance(1000);
    }
    expect(out.text.split('\n').filter(Boolean)).toEqual(['entropy train 1/30', 'entropy train 11/30  ETA 19s', 'entropy train 21/30  ETA 9s', 'entropy train 30/30']);
  });

  test('a message closes an open progress line first', () => {
    const { out, reporter } = capture(true);
    reporter.update({ stage: 'eval base', step: 1, total: 2 });
    reporter.log('done');
    expect(out.text).toBe('\r\x1b[2Keval base 1/2\ndone\n');
  });

  test('durations read as seconds, minutes or hours', () => {
    expect([formatDuration(4_400), formatDuration(125_000), formatDuration(3_725_000)]).toEqual(['4s', '2m05s', '1h02m']);
  });
});
