import { defineConfig } from 'tsdown';

/**
 * The published build: lib/ compiled twice, to ES modules (.mjs, .d.mts) and to
 * CommonJS (.cjs, .d.cts), each with its own declarations, for the two entry
 * points of package.json `exports`. Dependencies and peer dependencies stay
 * imports (tsdown externalizes what package.json lists); no source maps, since
 * the package does not ship lib/.
 */
export default defineConfig({
  entry: {
    index: 'lib/index.ts',
    'client/index': 'lib/client/index.ts',
  },
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node20',
  tsconfig: 'tsconfig.build.json',
  dts: true,
  sourcemap: false,
  outDir: 'dist',
  clean: true,
  // The dts plugin is the slow part of a ~5 s build; the timing warning says only that.
  checks: { pluginTimings: false },
});
