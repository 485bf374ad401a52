import { defineConfig } from 'tsup';

const common = { sourcemap: true, target: 'node20', platform: 'node', splitting: false } as const;

export default defineConfig([
  // The library, ESM with its dependencies external.
  { ...common, entry: ['src/index.ts'], format: ['esm'], dts: true },
  // The library, CommonJS, with its dependencies external (each ships CommonJS).
  { ...common, entry: ['src/index.ts'], format: ['cjs'], dts: true },
  // The Fastify plugin (`proxy-balancer/fastify`), ESM and CommonJS. It imports the core through the
  // package root, kept external, so an app loads one copy of the balancer (one BalancerConfigError
  // class, one set of declarations) whichever entry it imports first; fastify itself is types-only.
  { ...common, entry: ['src/fastify.ts'], format: ['esm', 'cjs'], dts: true, external: ['proxy-balancer'] },
  // The command, ESM (package.json has "type": "module").
  { ...common, entry: ['src/cli.ts'], format: ['esm'], dts: false },
]);
