const path = require('node:path');

/**
 * Every test file that speaks HTTP (supertest, an Express app, the example app) runs twice:
 * once on Express 5 (the `express` devDependency) and once on Express 4 (the `express4` alias).
 * test/express-major.test.ts fails when a file in test/ that imports express or supertest is missing here.
 * test/e2e/browser.test.ts runs on Express 5 only: the page it drives calls the example app's HTTP API,
 * whose every route and answer is tested on both majors (example-app, providers-flow), and the static
 * files and headers it loads are tested on both in example-app.test.ts; a second Chromium run adds ~8 s.
 */
const HTTP_TESTS = [
  'authentication',
  'available-methods',
  'bindings',
  'create-verification',
  'delegated-step-up',
  'endpoints.property',
  'example-app',
  'express-major',
  'failure-budgets',
  'hashing-queue',
  'guard',
  'http-input',
  'oidc-authenticator',
  'openapi',
  'options',
  'password-checker',
  'password-verification',
  'passkeys',
  'presets',
  'providers-flow',
  'rate-limits',
  'totp',
  'readme',
  'redis-outage',
  'verification-codes',
].map((name) => `<rootDir>/test/${name}.test.ts`);

/** What both projects share: TypeScript, and a Node environment that fails a file on an unhandled rejection or uncaught exception. */
const common = {
  testEnvironment: '<rootDir>/test/helpers/fail-on-process-errors-environment.js',
  roots: ['<rootDir>/test'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // jose 6 (and oauth4webapi, used by the tests) are ESM only: Node loads it with require(esm), Jest's module system does not, so it is compiled to CommonJS here.
    '/node_modules/(jose|oauth4webapi)/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, diagnostics: false }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|oauth4webapi)/)'],
};

/** @type {import('jest').Config} */
module.exports = {
  // Once for the whole run, not per project: one private redis-server, which both projects share
  // (every test works under its own random key prefix, so they cannot collide).
  globalSetup: '<rootDir>/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
  testTimeout: 20000,
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.js'],
  projects: [
    {
      ...common,
      displayName: { name: 'express 5', color: 'blue' },
      testMatch: ['**/*.test.ts'],
      globals: { EXPRESS_MAJOR_UNDER_TEST: 5 },
    },
    {
      ...common,
      displayName: { name: 'express 4', color: 'magenta' },
      testMatch: HTTP_TESTS,
      // The library's own `import express from 'express'` (express.Router(), express.static) and the tests'
      // both load Express 4, as in an Express 4 app; so does `express/package.json`.
      moduleNameMapper: {
        '^express$': path.join(__dirname, 'node_modules/express4'),
        '^express/(.*)$': path.join(__dirname, 'node_modules/express4/$1'),
      },
      globals: { EXPRESS_MAJOR_UNDER_TEST: 4 },
    },
  ],
};
