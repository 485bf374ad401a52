/**
 * The import graph of src/ has no cycles, type-only imports included (DESIGN.md: dependencies point
 * down the layers). Imports are read with a small parser of relative specifiers (`import … from`,
 * `export … from`, `import '…'`, `import('…')`), so no tool is needed; the parser and the cycle
 * finder are checked on a made-up graph first, so an empty result means no cycle, not a blind parser.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/**
 * Cycles allowed for now, each written as this test prints it (`a.ts -> b.ts -> a.ts`), with the
 * reason. Empty: every cycle is a failure.
 */
const KNOWN_CYCLES: ReadonlyMap<string, string> = new Map();

/** Relative specifiers imported by a module's text: static, type-only, re-exports, side effects, import() types. */
function importSpecifiers(text: string): string[] {
  const found: string[] = [];
  // Statements start a line (imports in doc comments start with ' * ' and are not read).
  for (const m of text.matchAll(/^(?:import|export)\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/^import\s*['"]([^'"]+)['"]/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found.filter((s) => s.startsWith('.'));
}

/** The module a relative specifier names, among `modules` (paths relative to the root, with `/`). */
function resolve(from: string, specifier: string, modules: ReadonlySet<string>): string | undefined {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = base.replace(/\.(?:js|ts|mjs|cjs)$/, '');
  return [`${stem}.ts`, `${stem}/index.ts`].find((candidate) => modules.has(candidate));
}

/** Module to the modules it imports, for files given as path to text. */
function importGraph(files: ReadonlyMap<string, string>): Map<string, string[]> {
  const modules = new Set(files.keys());
  const graph = new Map<string, string[]>();
  for (const [file, text] of files) {
    const targets = importSpecifiers(text).map((s) => resolve(file, s, modules));
    graph.set(file, [...new Set(targets.filter((t): t is string => t !== undefined))]);
  }
  return graph;
}

/** One cycle through each strongly connected component with more than one module (or a self-import), as a path. */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm for the components, then a shortest way back to the start within each.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((component) => cycleThrough(component, graph));
}

/** A shortest cycle from the component's first module back to itself, staying inside the component. */
function cycleThrough(component: readonly string[], graph: ReadonlyMap<string, readonly string[]>): string[] {
  const inside = new Set(component);
  const start = component[0]!;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const way = [v];
        while (way[0] !== start) way.unshift(cameFrom.get(way[0]!)!);
        return [...way, start];
      }
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...component, start]; // unreachable for a strongly connected component
}

function sourceFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(SRC, { recursive: true, encoding: 'utf8' })) {
    const file = entry.split(path.sep).join('/');
    if (file.endsWith('.ts')) files.set(file, readFileSync(path.join(SRC, entry), 'utf8'));
  }
  return files;
}

describe('the import graph of src/', () => {
  it('is read with type-only imports, re-exports and import() types, and its cycles are found', () => {
    const files = new Map([
      ['a.ts', "import { b } from './b.js';\nexport const a = b;\n"],
      ['b.ts', "import type {\n  C,\n} from './dir/index.js';\nexport const b = 1;\n"],
      ['dir/index.ts', "export { d } from '../d.js';\n"],
      ['d.ts', "/** import { a } from './a.js' in a comment is no import. */\nexport type D = import('./b.js').B;\n"],
      ['e.ts', "import 'node:fs';\nimport './a.js';\n"],
    ]);
    const graph = importGraph(files);
    expect(graph.get('b.ts')).toEqual(['dir/index.ts']);
    expect(graph.get('d.ts')).toEqual(['b.ts']);
    expect(graph.get('e.ts')).toEqual(['a.ts']);
    expect(findCycles(graph)).toEqual([['b.ts', 'dir/index.ts', 'd.ts', 'b.ts']]);
  });

  it('has no import cycle', () => {
    const graph = importGraph(sourceFiles());
    // The parser sees the type-only imports this rule is about.
    expect(graph.get('strategies/strategy.ts')).toContain('pool/member.ts');
    expect(graph.get('config.ts')).toContain('strategies/strategy.ts');
    const cycles = findCycles(graph)
      .map((cycle) => cycle.join(' -> '))
      .filter((cycle) => !KNOWN_CYCLES.has(cycle));
    expect(cycles, `import cycles in src/:\n${cycles.join('\n')}`).toEqual([]);
  });
});
