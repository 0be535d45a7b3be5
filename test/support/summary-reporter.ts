import type { Reporter, TestModule } from 'vitest/node';

// Prints one plain closing line, "N passed, N failed, N skipped", that any CI log reader understands.
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0, pending: 0 };
    for (const module of testModules) {
      for (const testCase of module.children.allTests()) counts[testCase.result().state] += 1;
    }
    console.log(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped + counts.pending} skipped`);
  }
}
