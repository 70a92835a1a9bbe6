import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The test environment (test/helpers/fail-on-process-errors-environment.js) fails a file on an
 * unhandled rejection or an uncaught exception. Proven on the files in test/fixtures/process-errors,
 * run by a child Jest, so that the failures it must produce do not turn this suite red.
 */
interface FileResult {
  name: string;
  status: 'passed' | 'failed';
  message: string;
}

describe('the test environment fails a file on process errors', () => {
  let results: Map<string, FileResult>;

  beforeAll(() => {
    const fixtures = path.join(__dirname, 'fixtures', 'process-errors');
    const config = {
      rootDir: fixtures,
      testMatch: ['<rootDir>/*.fixture.js'],
      testEnvironment: path.join(__dirname, 'helpers', 'fail-on-process-errors-environment.js'),
      transform: {},
    };
    const child = spawnSync(
      process.execPath,
      [require.resolve('jest/bin/jest'), '--config', JSON.stringify(config), '--runInBand', '--ci', '--json', '--silent'],
      { cwd: fixtures, encoding: 'utf8', timeout: 60_000, env: { ...process.env, FORCE_COLOR: '0' } },
    );
    expect(child.status).toBe(1); // the run fails
    const report = JSON.parse(child.stdout) as { testResults: FileResult[] };
    results = new Map(report.testResults.map((result) => [path.basename(result.name), result]));
  }, 60_000);

  test('a file without one passes (a rejection handled late is not one)', () => {
    expect(results.get('clean.fixture.js')?.status).toBe('passed');
  });

  test.each([
    ['unhandled-rejection.fixture.js', 'fixture: unhandled rejection'],
    ['uncaught-exception.fixture.js', 'fixture: uncaught exception'],
  ])('%s fails, naming the error', (file, error) => {
    expect(results.get(file)).toMatchObject({ status: 'failed', message: expect.stringContaining(error) });
  });

  test('one after the tests, when Jest no longer listens, fails the file from the environment', () => {
    const result = results.get('after-the-tests.fixture.js');
    expect(result).toMatchObject({ status: 'failed', message: expect.stringContaining('fixture: rejection after the tests') });
    expect(result?.message).toContain('unhandled rejection(s) or uncaught exception(s) after this file');
  });

  test('one that Jest itself does not fail a test for still fails the file', () => {
    const result = results.get('jest-forgets.fixture.js');
    expect(result).toMatchObject({ status: 'failed', message: expect.stringContaining('unhandledRejection in the test process') });
    expect(result?.message).toContain('fixture: rejection Jest forgot');
  });
});
