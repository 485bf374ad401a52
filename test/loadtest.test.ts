/**
 * A smoke-sized run of the study's load test (`npm run loadtest`): the three runs with a handful of
 * requests each, in-process, then once as the command the script runs, to see it exit on its own.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BalancerConfigError } from '../src/index.js';
import { formatReport, runLoadTest, type LoadTestReport, type RunReport } from '../examples/pi-cluster/loadtest.js';

/**
 * Requests per run: enough that the half after the failover run's kill (75) is far more than twice
 * the requests that can be under way at the kill (one per connection), so "Server 2 served no more
 * than what was under way" cannot hold by itself, as it would with an even split.
 */
const AMOUNT = 150;
const CONNECTIONS = 15;
/** Caps each run; a smoke-sized run ends long before, by its request count. */
const RUN_CAP_SEC = 10;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let dir: string;
let report: LoadTestReport;
const run = (name: string): RunReport => report.runs.find((r) => r.name === name)!;

beforeAll(
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'proxy-balancer-loadtest-'));
    report = await runLoadTest({ amount: AMOUNT, connections: CONNECTIONS, durationSec: RUN_CAP_SEC, out: path.join(dir, 'chart.svg') });
  },
  3 * RUN_CAP_SEC * 1000 + 30_000,
);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('runLoadTest, smoke-sized', () => {
  it('reports the three runs in order, each with requests and response times', () => {
    expect(report.runs.map((r) => r.name)).toEqual(['direct', 'balanced', 'failover']);
    for (const r of report.runs) {
      expect(r.requests).toBeGreaterThan(0);
      expect(r.requests).toBeLessThanOrEqual(AMOUNT);
      expect(r.meanMs).toBeGreaterThan(0);
      expect(r.p50Ms).toBeGreaterThan(0);
      expect(r.p95Ms).toBeGreaterThanOrEqual(r.p50Ms);
      expect(r.p99Ms).toBeGreaterThanOrEqual(r.p95Ms);
    }
    expect(report.connections).toBe(CONNECTIONS);
    expect(report.amount).toBe(AMOUNT);
  });

  it('direct: every request succeeds on Server 1 alone', () => {
    const direct = run('direct');
    expect(direct.failures).toBe(0);
    expect(direct.perMember).toEqual({ 'Server 1': direct.requests, 'Server 2': 0 });
    expect(direct.retries).toBeUndefined();
  });

  it('balanced: every request succeeds, and both members serve', () => {
    const balanced = run('balanced');
    expect(balanced.failures).toBe(0);
    expect(balanced.perMember['Server 1']).toBeGreaterThan(0);
    expect(balanced.perMember['Server 2']).toBeGreaterThan(0);
    expect(balanced.perMember['Server 1']! + balanced.perMember['Server 2']!).toBe(balanced.requests);
  });

  it('failover: Server 2 is killed mid-run, requests go on through Server 1, none fails', () => {
    const failover = run('failover');
    const kill = failover.kill!;
    expect(kill).toBeDefined();
    expect(kill.afterResponses).toBeGreaterThan(0);
    expect(kill.afterResponses).toBeLessThan(failover.requests);
    // Both members served before the kill; Server 1 went on serving after it.
    expect(kill.perMemberAtKill['Server 2']).toBeGreaterThan(0);
    expect(failover.perMember['Server 1']).toBeGreaterThan(kill.perMemberAtKill['Server 1']!);
    // Server 2 stops: after the kill, at most the responses already under way (one per connection)
    // arrive from it, and Server 1 serves all the rest. An even split of the requests after the kill
    // would give Server 2 more than that, so these can fail.
    const afterKill = failover.requests - kill.afterResponses;
    expect(afterKill).toBeGreaterThan(4 * CONNECTIONS);
    expect(failover.perMember['Server 2']! - kill.perMemberAtKill['Server 2']!).toBeLessThanOrEqual(CONNECTIONS);
    expect(failover.perMember['Server 1']! - kill.perMemberAtKill['Server 1']!).toBeGreaterThanOrEqual(afterKill - CONNECTIONS);
    // The balancer met the dead member and retried elsewhere, so the client saw no failure.
    expect(failover.retries).toBeGreaterThan(0);
    expect(failover.failures).toBe(0);
    expect(failover.perMember['Server 1']! + failover.perMember['Server 2']!).toBe(failover.requests);
  });

  it('writes an SVG chart of the runs', async () => {
    expect(report.chartFile).toBe(path.join(dir, 'chart.svg'));
    const svg = await readFile(report.chartFile, 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    for (const name of ['direct', 'balanced', 'failover', 'Server 2 killed', 'response time (ms)', 'percentile (log scale)']) expect(svg).toContain(name);
    expect(svg.match(/<polyline /g)).toHaveLength(2 * report.runs.length);
    expect(unbalancedTags(svg)).toEqual([]);
  });

  it('formats the report as an aligned table with one row per run', () => {
    const lines = formatReport(report).split('\n');
    expect(lines[0]).toMatch(/^run\s+requests\s+failures\s+req\/s\s+mean ms\s+p50 ms\s+p95 ms\s+p99 ms\s+Server 1\s+Server 2$/);
    const rows = lines.slice(2, 5);
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(['direct', 'balanced', 'failover']);
    expect(new Set([lines[0]!.length, ...rows.map((l) => l.length)]).size).toBe(1);
    expect(lines.at(-1)).toBe(`chart: ${report.chartFile}`);
  });
});

describe('runLoadTest options', () => {
  it.each([
    [{ amount: CONNECTIONS - 1 }, 'amount'],
    [{ durationSec: 0 }, 'durationSec'],
    [{ connections: 1.5 }, 'connections'],
    [{ out: 42 }, 'out'],
    [{ users: 15 }, 'users'],
  ])('rejects %j before starting anything', async (options, path) => {
    const error = await runLoadTest(options as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BalancerConfigError);
    expect((error as BalancerConfigError).path).toBe(path);
  });
});

describe('npm run loadtest', () => {
  it(
    'runs as a command, prints the report as JSON with --json, and exits on its own',
    async () => {
      const out = path.join(dir, 'cli.svg');
      // The child must end by itself: a dangling timer or socket would hold it until the timeout kills it.
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
        execFile(
          process.execPath,
          ['--import', 'tsx', 'examples/pi-cluster/loadtest.ts', '--amount', '30', '--duration', String(RUN_CAP_SEC), '--out', out, '--json'],
          { cwd: root, timeout: 3 * RUN_CAP_SEC * 1000 + 20_000 },
          (err, stdout) => (err ? reject(err) : resolve({ stdout })),
        );
      });
      const cli = JSON.parse(stdout) as LoadTestReport;
      expect(cli.runs.map((r) => r.name)).toEqual(['direct', 'balanced', 'failover']);
      expect(cli.amount).toBe(30);
      expect(cli.chartFile).toBe(out);
      expect((await readFile(out, 'utf8')).startsWith('<svg')).toBe(true);
    },
    3 * RUN_CAP_SEC * 1000 + 30_000,
  );

  it('names a bad flag and exits with status 1', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--import', 'tsx', 'examples/pi-cluster/loadtest.ts', '--duration', 'ten'],
        { cwd: root, timeout: 20_000 },
        (_err, _stdout, stderr) => resolve({ code: child.exitCode, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--duration must be a positive integer, got "ten"');
  });
});

/** Tags opened and not closed (or closed out of order) in an XML document; [] when they balance. */
function unbalancedTags(xml: string): string[] {
  const open: string[] = [];
  const problems: string[] = [];
  for (const [, closing, name, selfClosing] of xml.matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (!closing) open.push(name!);
    else if (open.pop() !== name) problems.push(`</${name}>`);
  }
  return [...problems, ...open];
}
