/**
 * The command's log lines (src/log.ts): the access-log format, its escaping, and a line for every
 * kind of member state change. The runtime changes (add, drain, weight, remove) need no socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer, type RequestEvent } from '../src/index.js';
import { accessLogLine, logStateChanges } from '../src/log.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

const ENDED = new Date('2026-11-26T10:00:00.000Z');
const EVENT: RequestEvent = {
  method: 'GET',
  url: '/x',
  route: 'pi2',
  status: 200,
  bytesSent: 0,
  bytesReceived: 5,
  durationMs: 12,
  attempts: 1,
  failure: undefined,
  upgrade: false,
  client: '127.0.0.1',
};

describe('accessLogLine', () => {
  it('writes the combined-like line with the member', () => {
    expect(accessLogLine(EVENT, ENDED)).toBe('2026-11-26T10:00:00.000Z 127.0.0.1 "GET /x" 200 5 route=pi2 attempts=1 12ms');
  });

  it('marks what is unknown with - and appends a failure', () => {
    const failed = { ...EVENT, client: undefined, route: undefined, status: 503, bytesReceived: 0, attempts: 0 };
    expect(accessLogLine(failed, ENDED)).toBe('2026-11-26T10:00:00.000Z - "GET /x" 503 0 route=- attempts=0 12ms');
    expect(accessLogLine({ ...EVENT, status: 502, failure: 'connect', attempts: 2 }, ENDED)).toMatch(/ 502 5 route=pi2 attempts=2 12ms failure=connect$/);
  });

  it('escapes quotes, backslashes, controls and bytes past ASCII, so a target cannot forge a line', () => {
    const url = '/a"b\\c\nd\u00e9';
    expect(accessLogLine({ ...EVENT, url }, ENDED)).toContain('"GET /a\\x22b\\x5cc\\x0ad\\xe9" 200');
  });
});

describe('logStateChanges', () => {
  it('writes a timestamped line for members added, changed and removed', () => {
    const balancer = createBalancer({ members: [{ url: 'http://127.0.0.1:3001', route: 'a' }] });
    cleanups.push(() => balancer.close());
    const lines: string[] = [];
    logStateChanges(balancer, (line) => lines.push(line));
    balancer.pool.add({ url: 'http://127.0.0.1:3002', route: 'b' });
    balancer.pool.drain('a');
    balancer.pool.setWeight('b', 5);
    balancer.pool.remove('b');
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z member /);
    expect(lines.map((l) => l.slice(25))).toEqual([
      'member b added: http://127.0.0.1:3002/',
      expect.stringMatching(/^member a changed: .*drain/),
      expect.stringMatching(/^member b changed: .*5/),
      'member b removed: http://127.0.0.1:3002/',
    ]);
  });
});
