// Checks the package as published (`npm pack`), so that what other apps install is what is tested:
//  1. the tarball holds the builds, their declarations, LICENSE and the client stub, and no source
//     maps (the package does not ship lib/, so maps would point at missing sources) or sources;
//  2. publint reports nothing (errors, warnings or suggestions);
//  3. arethetypeswrong finds no problem for ".", "./client" and "./package.json" under node10,
//     node16 (from CJS and from ESM) and bundler resolution;
//  4. `express-step-up/client` bundles for the browser with esbuild (platform "browser"), through
//     `import` and through `require`, taking nothing but the package's own dist files: any Node
//     module or other package fails the check. Its minified+gzipped size is printed. As a control
//     the main entry, which does need Node, must fail the same bundling.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { packedTarball, repoRoot } from './packed-tarball.mjs';

const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`FAIL ${message}`);
};
const ok = (message) => console.log(`ok   ${message}`);

const tarball = packedTarball();
console.log(`tarball: ${tarball}`);

// 1. Contents.
const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
  .split('\n')
  .filter(Boolean)
  .map((name) => name.replace(/^package\//, ''));
const required = [
  'LICENSE',
  'README.md',
  'package.json',
  'client/package.json',
  ...['index', 'client/index'].flatMap((entry) => ['.mjs', '.cjs', '.d.mts', '.d.cts'].map((ext) => `dist/${entry}${ext}`)),
];
const missing = required.filter((name) => !files.includes(name));
if (missing.length > 0) fail(`tarball lacks ${missing.join(', ')}`);
else ok(`tarball holds the ESM and CJS builds with their declarations, LICENSE and client/package.json (${files.length} files)`);
const unwanted = files.filter((name) => name.endsWith('.map') || /^(lib|test|example-app|bench|scripts)\//.test(name));
if (unwanted.length > 0) fail(`tarball holds files it must not: ${unwanted.join(', ')}`);
else ok('tarball holds no source maps and no sources');

// 2. publint, on the tarball itself.
const packageJson = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const tarballBytes = readFileSync(tarball);
const lint = await publint({
  pack: { tarball: tarballBytes.buffer.slice(tarballBytes.byteOffset, tarballBytes.byteOffset + tarballBytes.byteLength) },
  level: 'suggestion',
  strict: true,
});
if (lint.messages.length > 0) {
  for (const message of lint.messages) fail(`publint ${message.type}: ${formatMessage(message, lint.pkg ?? packageJson)}`);
} else ok('publint: no errors, warnings or suggestions');

// 3. arethetypeswrong (its CLI exits non-zero on any problem).
try {
  const report = execFileSync(
    path.join(repoRoot, 'node_modules', '.bin', 'attw'),
    [tarball, '--format', 'table-flipped', '--no-color', '--no-emoji'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  ok('arethetypeswrong: no problems');
  console.log(report.trim().split('\n').map((line) => `     ${line}`).join('\n'));
} catch (error) {
  fail(`arethetypeswrong found problems:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
}

// 4. The client in a browser bundle.
const app = mkdtempSync(path.join(tmpdir(), 'express-step-up-browser-'));
const installed = path.join(app, 'node_modules', 'express-step-up');
mkdirSync(installed, { recursive: true });
execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);

/** Bundles `contents` for the browser; returns the minified code, or the resolver's errors. */
async function bundleForBrowser(contents, format) {
  try {
    const result = await build({
      stdin: { contents, resolveDir: app, sourcefile: 'browser-app.js' },
      absWorkingDir: app,
      bundle: true,
      platform: 'browser',
      format,
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    return { code: result.outputFiles[0].contents, inputs: Object.keys(result.metafile.inputs) };
  } catch (error) {
    return { errors: (error.errors ?? [{ text: String(error) }]).map((e) => e.text) };
  }
}

const ownDist = /^node_modules\/express-step-up\/dist\/[^/]+(\/[^/]+)?\.(mjs|cjs)$/;
for (const [how, contents, format] of [
  ['import', "export { withVerification } from 'express-step-up/client';", 'esm'],
  ['require', "module.exports = require('express-step-up/client');", 'cjs'],
]) {
  const bundle = await bundleForBrowser(contents, format);
  if (bundle.errors) {
    fail(`express-step-up/client (${how}) does not bundle for the browser:\n  ${bundle.errors.join('\n  ')}`);
    continue;
  }
  const foreign = bundle.inputs.filter((input) => input !== 'browser-app.js' && !ownDist.test(input));
  if (foreign.length > 0) {
    fail(`express-step-up/client (${how}) pulls in more than its own dist files: ${foreign.join(', ')}`);
    continue;
  }
  const gzipped = gzipSync(bundle.code, { level: 9 }).length;
  ok(
    `express-step-up/client (${how}) bundles for the browser from ${bundle.inputs.length - 1} dist files: ` +
      `${bundle.code.length} bytes minified, ${gzipped} bytes minified+gzipped`,
  );
}

const control = await bundleForBrowser("export * from 'express-step-up';", 'esm');
if (control.errors?.some((text) => text.includes('node:crypto'))) {
  ok('control: the main entry fails the same browser bundling (it needs node:crypto), so the check can fail');
} else {
  fail(`control: bundling the main entry for the browser should fail on node:crypto, got ${JSON.stringify(control.errors ?? control.inputs)}`);
}
rmSync(app, { recursive: true, force: true });

if (failures.length > 0) {
  console.error(`check-package: ${failures.length} problem(s)`);
  process.exit(1);
}
console.log('check-package: the packed package is clean');
