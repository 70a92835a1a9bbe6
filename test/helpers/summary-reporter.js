/**
 * Prints one plain closing line, "Summary: N passed, N failed, N skipped", as the very last
 * line of the run, so that tools reading the last lines of a CI run can count the tests.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `\nSummary: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${skipped} skipped\n`;
    // At exit, so that it comes after Jest's own summary (written by a reporter that runs after this one).
    process.once('exit', () => process.stdout.write(line));
  }
}

module.exports = SummaryReporter;
