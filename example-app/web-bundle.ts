import path from 'node:path';
import { build } from 'esbuild';

/** The page script's entry point: TypeScript that imports the library's client helper. */
const ENTRY = path.join(__dirname, 'web', 'main.ts');

/**
 * Bundles the demo page's script (example-app/web/main.ts and what it imports)
 * into one ES module, in memory, and returns its code.
 *
 * Done once at startup rather than shipped prebuilt, so the page always runs the
 * library's current `withVerification` and the demo needs no build step. A
 * syntax or import error fails the start with esbuild's message.
 */
export async function bundleWebApp(): Promise<string> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    write: false,
    target: 'es2020',
    platform: 'browser',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no output for the web page script');
  return output.text;
}
