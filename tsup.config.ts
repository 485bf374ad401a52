import { defineConfig } from 'tsup';

const common = { sourcemap: true, target: 'node20', platform: 'node', splitting: false } as const;

export default defineConfig([
  // The library, ESM with its dependencies external.
  { ...common, entry: ['src/index.ts'], format: ['esm'], dts: true },
  // The library, CommonJS. p-retry 7 is ESM-only and require(esm) is on by default only from
  // Node 20.19, so the CJS build carries p-retry (and its one dependency) inside it.
  { ...common, entry: ['src/index.ts'], format: ['cjs'], dts: true, noExternal: ['p-retry', 'is-network-error'] },
  // The command, ESM (package.json has "type": "module").
  { ...common, entry: ['src/cli.ts'], format: ['esm'], dts: false },
]);
