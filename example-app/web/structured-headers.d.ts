/**
 * structured-headers publishes its types only through its package.json `exports` map, which the
 * project's `moduleResolution: node10` does not read; this points the bare import at the package's
 * own declarations (esbuild, which reads `exports`, resolves the code itself).
 */
declare module 'structured-headers' {
  export * from 'structured-headers/dist/index.js';
}
