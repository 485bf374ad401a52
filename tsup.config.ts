import { defineConfig } from 'tsup';

const common = { sourcemap: true, target: 'node20', platform: 'node', splitting: false } as const;

export default defineConfig([
  // The library, ESM with its dependencies external.
  { ...common, entry: ['src/index.ts'], format: ['esm'], dts: true },
  // The library, CommonJS, with its dependencies external (each ships CommonJS).
  { ...common, entry: ['src/index.ts'], format: ['cjs'], dts: true },
  // The command, ESM (package.json has "type": "module").
  { ...common, entry: ['src/cli.ts'], format: ['esm'], dts: false },
]);
