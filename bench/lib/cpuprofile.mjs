/**
 * Summarises V8 CPU profiles (`.cpuprofile`, from the bench's `--profile` or `node --cpu-prof`)
 * in two views, both excluding idle time:
 * - self time by category (the package's own code, http-proxy-3, Node internals, GC, ...) and by
 *   function;
 * - owned time: each sample charged to the nearest library frame on its stack (the package or a
 *   module under node_modules), so a package function is charged for the Node internals it calls
 *   (listeners, writeHead, pipe) but not for another library's code. This is what shows where the
 *   package's cost is when its own self time is small.
 * Package frames in dist/ are mapped back to their src/ file and line through dist's source map.
 * With request counts, times are also given in µs per request.
 *
 * CLI: `node bench/lib/cpuprofile.mjs <file.cpuprofile|dir>...` (no request counts).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const sourceMaps = new Map();

/**
 * Summarises `profiles` (`[{ file, requests? }]`) as one: times add up across files; `top` rows
 * per list. Returns `{ label, files, busyMs, requests, busyUsPerRequest, categories, selfTop, ownedTop }`.
 */
export function summariseProfiles(label, profiles, { top: topCount = 20 } = {}) {
  const categories = new Map();
  const self = new Map();
  const owned = new Map();
  let busyUs = 0;
  let requests = 0;
  for (const { file, requests: served } of profiles) {
    requests += served ?? 0;
    busyUs += addProfile(JSON.parse(readFileSync(file, 'utf8')), categories, self, owned);
  }
  const perRequest = requests > 0 ? (us) => us / requests : () => undefined;
  const row = ([name, us]) => ({ name, selfMs: us / 1000, pctOfBusy: (100 * us) / Math.max(1, busyUs), usPerRequest: perRequest(us) });
  const top = (map) =>
    [...map]
      .map(row)
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topCount);
  return {
    label,
    files: profiles.map((p) => p.file),
    busyMs: busyUs / 1000,
    requests: requests || undefined,
    busyUsPerRequest: perRequest(busyUs),
    categories: [...categories].map(row).sort((a, b) => b.selfMs - a.selfMs),
    selfTop: top(self),
    ownedTop: top(owned),
  };
}

/** Adds one profile's non-idle self time into the maps; returns its busy µs. */
function addProfile(profile, categories, self, owned) {
  const parentOf = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  const where = new Map(profile.nodes.map((n) => [n.id, locate(n.callFrame)]));
  const ownerCache = new Map();
  const ownerOf = (id) => {
    if (ownerCache.has(id)) return ownerCache.get(id);
    const here = where.get(id);
    const parent = parentOf.get(id);
    let owner;
    if (here.library) owner = `[${here.category}] ${here.label}`;
    else if (parent === undefined) owner = '(no library frame: event loop, Node internals)';
    else owner = ownerOf(parent);
    ownerCache.set(id, owner);
    return owner;
  };
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const w = where.get(id);
    if (w === undefined || w.category === 'idle') continue;
    busyUs += us;
    categories.set(w.category, (categories.get(w.category) ?? 0) + us);
    const selfKey = `[${w.category}] ${w.label}`;
    self.set(selfKey, (self.get(selfKey) ?? 0) + us);
    const owner = ownerOf(id);
    owned.set(owner, (owned.get(owner) ?? 0) + us);
  }
  return busyUs;
}

/** The category of a call frame, whether it is library code, and a readable name (package frames mapped to src/). */
function locate(frame) {
  const name = frame.functionName || '(anonymous)';
  const url = frame.url ?? '';
  if (url === '') {
    if (name === '(idle)') return { category: 'idle', label: name, library: false };
    if (name === '(garbage collector)') return { category: 'gc', label: name, library: false };
    return { category: 'vm', label: name, library: false }; // (program), (root), native builtins
  }
  // WebAssembly (undici's llhttp parser): charged to the library frame that called it.
  if (url.startsWith('wasm://')) return { category: 'wasm', label: `${name} ${url}`, library: false };
  const file = url.startsWith('file://') ? fileURLToPath(url) : url;
  const line = frame.lineNumber + 1;
  if (/[\\/]dist[\\/]index\.c?js$/.test(file)) {
    const original = mapToSource(file, frame.lineNumber, frame.columnNumber);
    return { category: 'proxy-balancer', label: `${name} ${original ?? `${path.basename(file)}:${line}`}`, library: true };
  }
  const pkg = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(file);
  if (pkg) return { category: pkg[1].replace('\\', '/'), label: `${name} ${path.basename(file)}:${line}`, library: true };
  if (url.startsWith('node:')) return { category: 'node', label: `${name} ${url}:${line}`, library: false };
  // The bench's own front end (the bare proxy's handler) counts as library code too.
  return { category: 'bench', label: `${name} ${path.basename(file)}:${line}`, library: true };
}

function mapToSource(file, line0, column0) {
  let map = sourceMaps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    sourceMaps.set(file, map);
  }
  const entry = map?.findEntry(line0, column0);
  if (!entry || entry.originalSource === undefined) return undefined;
  const source = entry.originalSource.replace(/^.*?(?=src[\\/])/, '');
  return `${source}:${entry.originalLine + 1}`;
}

/** Plain-text report of {@link summariseProfiles} results. */
export function formatProfileSummary(summaries) {
  const lines = [];
  const fmtRow = (r) =>
    `  ${r.pctOfBusy.toFixed(1).padStart(5)}% ${r.selfMs.toFixed(0).padStart(7)} ms${r.usPerRequest === undefined ? '' : ` ${r.usPerRequest.toFixed(2).padStart(7)} µs/req`}  ${r.name}`;
  for (const s of summaries) {
    const perReq = s.busyUsPerRequest === undefined ? '' : `, ${s.requests} requests, ${s.busyUsPerRequest.toFixed(1)} µs/req busy`;
    lines.push('', `CPU profile: ${s.label} (busy ${s.busyMs.toFixed(0)} ms${perReq}; % of busy time)`);
    lines.push(' self time by category:');
    for (const c of s.categories) lines.push(fmtRow(c));
    lines.push(' self time, top functions:');
    for (const f of s.selfTop) lines.push(fmtRow(f));
    lines.push(' owned time (charged to the nearest library frame), top:');
    for (const f of s.ownedTop) lines.push(fmtRow(f));
  }
  return lines.join('\n');
}

function profileFiles(target) {
  if (!statSync(target).isDirectory()) return [target];
  return readdirSync(target)
    .flatMap((name) => profileFiles(path.join(target, name)))
    .filter((f) => f.endsWith('.cpuprofile'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  if (targets.length === 0) {
    console.error('usage: node bench/lib/cpuprofile.mjs <file.cpuprofile|dir>...');
    process.exit(64);
  }
  console.log(formatProfileSummary(targets.flatMap(profileFiles).map((file) => summariseProfiles(file, [{ file }]))));
}
