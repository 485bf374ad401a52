/**
 * Runs a suite once per upstream engine: `forEachEngine(() => { describe(...) })`, with
 * `currentEngine()` naming the engine of the block being run (for createBalancer's `engine`).
 */
import { beforeAll, describe } from 'vitest';
import { ENGINE_NAMES, type EngineName } from '../../src/config.js';

export const ENGINES: readonly EngineName[] = ENGINE_NAMES;

let current: EngineName = ENGINES[0]!;

/** The engine of the block whose tests are running. */
export function currentEngine(): EngineName {
  return current;
}

/** Declares the suite `body` once per engine, in a block named after it. */
export function forEachEngine(body: () => void): void {
  for (const engine of ENGINES) {
    describe(`on the ${engine} engine`, () => {
      beforeAll(() => {
        current = engine;
      });
      body();
    });
  }
}
