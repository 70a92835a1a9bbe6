// The package as npm publishes it: `npm pack` (whose `prepack` runs the build) into a temporary
// folder. The package checks and the consumer tests both test this tarball, never lib/ or dist/
// directly. Set EXPRESS_STEP_UP_TARBALL to reuse a tarball packed earlier (.ci/run packs once).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function packedTarball() {
  const given = process.env.EXPRESS_STEP_UP_TARBALL;
  if (given) {
    if (!existsSync(given)) throw new Error(`EXPRESS_STEP_UP_TARBALL=${given} does not exist`);
    return path.resolve(given);
  }
  const destination = mkdtempSync(path.join(tmpdir(), 'express-step-up-pack-'));
  // What `prepack` would run, done first so that the build's output stays out of pack's JSON.
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [{ filename }] = JSON.parse(out);
  return path.join(destination, filename);
}
