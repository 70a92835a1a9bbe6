/**
 * Consumer tests: the packed package (`npm pack`, as published) installed into three small apps,
 * each with its own committed lockfile, as other people's apps would install it:
 *   esm-ts         TypeScript, ES modules, nodenext, Express 5, ioredis 6
 *   cjs-js         plain CommonJS JavaScript, Express 4, ioredis 5 (README snippets type-checked as node16 CommonJS)
 *   cjs-ts-node10  TypeScript, CommonJS, moduleResolution node10, with express-step-up/client
 * Each app is copied to a fresh temporary folder first, so that nothing resolves from this repo's
 * own node_modules (a package the app lacks must be missing there too). Then: `npm ci`, then
 * `npm install --no-save <tarball>` (the lockfile stays the app's own),
 * `npm ls` without invalid or missing packages (peer ranges included), the README's ```ts
 * snippets written as they are into the app and compiled with its settings, then the app is
 * started and driven over HTTP: 403 → verify the password → 201 → replay 403, malformed JSON → JSON
 * 400, no token → JSON 401, and the process still answers afterwards.
 *
 * Run with `npm run test:consumers` (needs the npm registry and redis-server). Set
 * EXPRESS_STEP_UP_TARBALL to test a tarball packed before; CONSUMERS=esm-ts,cjs-js to run a subset.
 * After changing an app's package.json, refresh its lockfile with `npm install --package-lock-only`
 * in its folder (no node_modules there: the apps are only ever installed in their temporary copy).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import jwt from 'jsonwebtoken';
import { startRedisServer, type PrivateRedis } from '../helpers/redis-server';
import { writeReadmeSnippets } from './readme-snippets';
import { checkFactorsFlow } from './factors-flow';
import { checkQuickStartFlow } from './http-flow';

interface Consumer {
  readonly name: string;
  readonly title: string;
  /** Where the README's snippets go, relative to the app. */
  readonly snippets: string;
  /** The app's entry point after `npm run build`, relative to the app. */
  readonly main: string;
}

const CONSUMERS: readonly Consumer[] = [
  { name: 'esm-ts', title: 'TypeScript ESM, nodenext, Express 5, ioredis 6', snippets: 'src/readme', main: 'build/main.js' },
  { name: 'cjs-js', title: 'JavaScript CommonJS, Express 4, ioredis 5', snippets: 'readme', main: 'main.js' },
  { name: 'cjs-ts-node10', title: 'TypeScript CommonJS, node10, express-step-up/client', snippets: 'src/readme', main: 'build/main.js' },
];

const here = __dirname;
const repoRoot = path.resolve(here, '../..');

async function main(): Promise<void> {
  const started = Date.now();
  const only = process.env.CONSUMERS?.split(',').filter(Boolean);
  const consumers = only ? CONSUMERS.filter((c) => only.includes(c.name)) : CONSUMERS;
  if (consumers.length === 0) throw new Error(`CONSUMERS=${process.env.CONSUMERS} names no consumer`);

  const tarball = await packedTarball();
  console.log(`tarball: ${tarball}`);
  const redis = await startRedisServer();
  const results: Array<{ name: string; ok: boolean; seconds: number; error?: unknown }> = [];
  try {
    for (const consumer of consumers) {
      const t0 = Date.now();
      console.log(`\n== ${consumer.name}: ${consumer.title}`);
      try {
        await runConsumer(consumer, tarball, redis);
        results.push({ name: consumer.name, ok: true, seconds: (Date.now() - t0) / 1000 });
      } catch (error) {
        console.error(error);
        results.push({ name: consumer.name, ok: false, seconds: (Date.now() - t0) / 1000, error });
      }
    }
  } finally {
    await redis.stop();
  }
  console.log('');
  for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.seconds.toFixed(1)} s)`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`consumer tests took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`consumers: ${results.length - failed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

async function runConsumer(consumer: Consumer, tarball: string, redis: PrivateRedis): Promise<void> {
  const dir = isolatedCopy(path.join(here, consumer.name));
  try {
    await installBuildAndRun(consumer, dir, tarball, redis);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The app's committed files in a new temporary folder with no node_modules above it. */
function isolatedCopy(source: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `express-step-up-consumer-${path.basename(source)}-`));
  for (let above = path.dirname(dir); ; above = path.dirname(above)) {
    if (existsSync(path.join(above, 'node_modules'))) {
      throw new Error(`${above}/node_modules would be visible to the app in ${dir}; set TMPDIR to a folder without one above it`);
    }
    if (path.dirname(above) === above) break;
  }
  cpSync(source, dir, {
    recursive: true,
    filter: (file) => !/(^|[\\/])(node_modules|build|readme)([\\/]|$)/.test(path.relative(source, file)),
  });
  return dir;
}

async function installBuildAndRun(consumer: Consumer, dir: string, tarball: string, redis: PrivateRedis): Promise<void> {
  const written = writeReadmeSnippets(path.join(repoRoot, 'README.md'), path.join(dir, consumer.snippets));
  console.log(`README snippets: ${written.map((s) => s.file).join(', ')}`);

  npm(dir, ['ci', '--no-audit', '--no-fund']);
  npm(dir, ['install', '--no-save', '--no-audit', '--no-fund', tarball]);
  checkNpmLs(dir);
  npm(dir, ['run', 'build']);
  console.log('compiled (the README snippets included)');

  const jwtSecret = randomBytes(32).toString('hex');
  const token = jwt.sign({ sub: 'usr_1' }, jwtSecret, { algorithm: 'HS256', expiresIn: 300 });
  const app = spawn(process.execPath, [consumer.main], {
    cwd: dir,
    env: {
      ...process.env,
      JWT_SECRET: jwtSecret,
      CONSUMER_TOKEN: token,
      VERIFICATION_SECRET: randomBytes(32).toString('base64'),
      REDIS_URL: redis.url,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const ports = await readyPorts(app);
    for (const [label, port] of Object.entries(ports)) {
      // The apps label the one that serves passkeys and TOTP "factors …"; the others serve the quick start.
      if (label.startsWith('factors')) await checkFactorsFlow(`http://127.0.0.1:${port}`, token);
      else await checkQuickStartFlow(`http://127.0.0.1:${port}`, token);
      console.log(`HTTP flow passed: ${label}`);
    }
    if (app.exitCode !== null || app.signalCode !== null) throw new Error(`the app exited (${app.exitCode ?? app.signalCode})`);
  } finally {
    if (app.exitCode === null && app.signalCode === null) {
      app.kill('SIGTERM');
      await once(app, 'exit');
    }
  }
}

/** The ports the app prints once it listens (`CONSUMER_READY {"label": port}`), or its failure. */
function readyPorts(app: ChildProcess): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`the app did not start within 20 s; it printed:\n${output}`)), 20_000);
    app.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      process.stdout.write(chunk.split('\n').filter((l) => l && !l.startsWith('CONSUMER_READY')).map((l) => `  app: ${l}\n`).join(''));
      const match = /^CONSUMER_READY (.*)$/m.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(JSON.parse(match[1]!) as Record<string, number>);
      }
    });
    app.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code ?? signal}) before it was ready; it printed:\n${output}`));
    });
  });
}

/** `npm ls --all` must pass and list nothing invalid or missing (peer dependency ranges included). */
function checkNpmLs(dir: string): void {
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--all'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    throw new Error(`npm ls failed in ${dir}:\n${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`);
  }
  // "UNMET OPTIONAL DEPENDENCY" is an optional peer the app does not use (e.g. twilio): expected.
  const problems = out
    .split('\n')
    .filter((line) => /\b(invalid|missing|UNMET|ERR!)\b/.test(line) && !/UNMET OPTIONAL DEPENDENCY/.test(line));
  if (problems.length > 0) throw new Error(`npm ls in ${dir} reports:\n${problems.join('\n')}`);
  const installed = /express-step-up@\S+/.exec(out)?.[0];
  // express-step-up and its dependencies show as "extraneous": installed with --no-save, on purpose.
  console.log(`npm ls: no invalid or missing packages (${installed} from the tarball)`);
}

function npm(dir: string, args: string[]): void {
  try {
    execFileSync('npm', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm ${args.join(' ')} failed in ${dir}:\n${stdout}${stderr}`);
  }
}

async function packedTarball(): Promise<string> {
  const { packedTarball: pack } = (await import(path.join(repoRoot, 'scripts', 'packed-tarball.mjs'))) as { packedTarball(): string };
  return pack();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
