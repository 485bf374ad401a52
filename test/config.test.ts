/**
 * Option validation: every rule throws a BalancerConfigError naming the option path and the value,
 * with the message `<path> <expectation>, got <value>`. Also the pool's runtime API, which validates
 * the same way, and compile-time checks (`@ts-expect-error`, checked by `tsc --noEmit`).
 * Addresses here are data only; nothing connects to them.
 */
import { describe, expect, it } from 'vitest';
import { BalancerConfigError, createBalancer } from '../src/index.js';
import { normalizeOptions } from '../src/config.js';
import { buildPool } from './helpers/members.js';

const U1 = 'http://127.0.0.1:3001';
const U2 = 'http://127.0.0.1:3002';

/** The BalancerConfigError that `run` throws; fails the test if it throws nothing or something else. */
function configError(run: () => unknown): BalancerConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof BalancerConfigError) return err;
    throw err;
  }
  throw new Error('expected a BalancerConfigError, nothing was thrown');
}

/** Asserts path, value and exact message (a RegExp for messages that list growing option sets). */
function expectError(run: () => unknown, path: string, value: unknown, message: string | RegExp): void {
  const err = configError(run);
  expect(err.path).toBe(path);
  expect(err.value).toEqual(value);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
  expect(err.code).toBe('ERR_BALANCER_CONFIG');
  expect(err.name).toBe('BalancerConfigError');
  expect(err).toBeInstanceOf(Error);
}

/** Options whose second member has `extra` merged in. */
const secondMember = (extra: Record<string, unknown>): unknown => ({ members: [{ url: U1 }, { url: U2, ...extra }] });
const firstMember = (extra: Record<string, unknown>): unknown => ({ members: [{ url: U1, ...extra }] });

describe('defaults', () => {
  it('fills every default and keeps members in order', () => {
    const config = normalizeOptions({ members: [{ url: U1 }, { url: 'http://192.0.2.3/app', route: 'pi3', weight: 2.5, lbset: 1, status: 'standby' }] });
    expect(config.strategy).toBe('byrequests');
    expect(config.timeoutMs).toBe(60_000);
    expect(config.retryMs).toBe(60_000);
    expect(config.preserveHost).toBe(false);
    expect(config.members.map((m) => [m.url.href, m.route, m.weight, m.lbset, m.status])).toEqual([
      ['http://127.0.0.1:3001/', '127_0_0_1-3001', 1, 0, 'active'],
      ['http://192.0.2.3/app', 'pi3', 2.5, 1, 'standby'],
    ]);
  });

  it('accepts the edges of every range', () => {
    const config = normalizeOptions({
      members: [
        { url: U1, weight: 1, lbset: 0 },
        { url: U2, weight: 100, lbset: 99, route: 'r'.repeat(64) },
      ],
      timeoutMs: 1,
      retryMs: 0,
      preserveHost: true,
    });
    expect(config.members.map((m) => [m.weight, m.lbset])).toEqual([
      [1, 0],
      [100, 99],
    ]);
    expect([config.timeoutMs, config.retryMs, config.preserveHost]).toEqual([1, 0, true]);
    expect(normalizeOptions({ members: [], timeoutMs: 2_147_483_647 }).timeoutMs).toBe(2_147_483_647);
  });
});

describe('top-level shape', () => {
  it('options must be an object', () => {
    expectError(() => normalizeOptions(null), 'options', null, 'options must be an object, got null');
    expectError(() => normalizeOptions([]), 'options', [], 'options must be an object, got []');
    expectError(() => normalizeOptions('http://127.0.0.1:1'), 'options', 'http://127.0.0.1:1', 'options must be an object, got "http://127.0.0.1:1"');
  });

  it('members must be an array of objects', () => {
    expectError(() => normalizeOptions({}), 'members', undefined, 'members must be an array of member options, got undefined');
    expectError(() => normalizeOptions({ members: { url: U1 } }), 'members', { url: U1 }, `members must be an array of member options, got {"url":"${U1}"}`);
    expectError(() => normalizeOptions({ members: [U1] }), 'members[0]', U1, `members[0] must be an object, got "${U1}"`);
  });

  it('rejects unknown keys at the top level and in a member', () => {
    expectError(
      () => normalizeOptions({ members: [], retries: 3 }),
      'retries',
      3,
      /^retries is not a known option \(known: members, strategy, engine, tls, reverse, onProxyRequest, onProxyResponse, timeoutMs, retryMs, preserveHost(, \w+)*\), got 3$/,
    );
    expectError(
      () => normalizeOptions(secondMember({ wieght: 2 })),
      'members[1].wieght',
      2,
      /^members\[1\]\.wieght is not a known option \(known: url, route, weight, lbset, status(, \w+)*\), got 2$/,
    );
  });
});

describe('member weight (Apache loadfactor)', () => {
  it.each([
    [0, '0'],
    [101, '101'],
    [0.5, '0.5'],
    [-1, '-1'],
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    ['2', '"2"'],
    [null, 'null'],
  ])('rejects %s', (weight, shown) => {
    expectError(
      () => normalizeOptions(secondMember({ weight })),
      'members[1].weight',
      weight,
      `members[1].weight must be a number from 1 to 100, got ${shown}`,
    );
  });

  it('accepts decimals', () => {
    expect(normalizeOptions(firstMember({ weight: 1.5 })).members[0]!.weight).toBe(1.5);
  });
});

describe('member lbset', () => {
  it.each([
    [-1, '-1'],
    [1.5, '1.5'],
    [100, '100'],
    ['0', '"0"'],
  ])('rejects %s', (lbset, shown) => {
    expectError(() => normalizeOptions(firstMember({ lbset })), 'members[0].lbset', lbset, `members[0].lbset must be an integer from 0 to 99, got ${shown}`);
  });
});

describe('member status', () => {
  it('accepts each status and rejects anything else, case included', () => {
    for (const status of ['disabled', 'standby', 'spare', 'drain', 'stopped']) {
      expect(normalizeOptions(firstMember({ status })).members[0]!.status).toBe(status);
    }
    const expectation = "must be one of 'disabled', 'standby', 'spare', 'drain', 'stopped'";
    expectError(() => normalizeOptions(firstMember({ status: 'foo' })), 'members[0].status', 'foo', `members[0].status ${expectation}, got "foo"`);
    expectError(
      () => normalizeOptions(firstMember({ status: 'Disabled' })),
      'members[0].status',
      'Disabled',
      `members[0].status ${expectation}, got "Disabled"`,
    );
    expectError(() => normalizeOptions(firstMember({ status: 'D' })), 'members[0].status', 'D', `members[0].status ${expectation}, got "D"`);
  });
});

describe('member url', () => {
  it('must be present and a string', () => {
    expectError(
      () => normalizeOptions({ members: [{ route: 'a' }] }),
      'members[0].url',
      undefined,
      'members[0].url must be an absolute http: or https: URL string, got undefined',
    );
    expectError(
      () => normalizeOptions({ members: [{ url: 3001 }] }),
      'members[0].url',
      3001,
      'members[0].url must be an absolute http: or https: URL string, got 3001',
    );
  });

  it('must be absolute', () => {
    expectError(
      () => normalizeOptions({ members: [{ url: '/app' }] }),
      'members[0].url',
      '/app',
      'members[0].url must be an absolute http: or https: URL, got "/app"',
    );
    expectError(
      () => normalizeOptions({ members: [{ url: '127.0.0.1:3001' }] }),
      'members[0].url',
      '127.0.0.1:3001',
      'members[0].url must be an absolute http: or https: URL, got "127.0.0.1:3001"',
    );
  });

  it('must use http: or https:', () => {
    expectError(
      () => normalizeOptions({ members: [{ url: 'ftp://127.0.0.1/' }] }),
      'members[0].url',
      'ftp://127.0.0.1/',
      'members[0].url must use http: or https:, got "ftp://127.0.0.1/"',
    );
    // A forgotten scheme parses as the scheme "localhost:".
    expectError(
      () => normalizeOptions({ members: [{ url: 'localhost:3001' }] }),
      'members[0].url',
      'localhost:3001',
      'members[0].url must use http: or https:, got "localhost:3001"',
    );
  });

  it('must not carry credentials, and the error does not repeat them', () => {
    const err = configError(() => normalizeOptions({ members: [{ url: 'http://admin:s3cret@127.0.0.1:3001/' }] }));
    expect(err.path).toBe('members[0].url');
    expect(err.message).toBe('members[0].url must not contain credentials, got "http://***@127.0.0.1:3001/"');
    expect(String(err.value)).not.toContain('s3cret');
    expect(configError(() => normalizeOptions({ members: [{ url: 'http://admin@127.0.0.1:3001/' }] })).message).not.toContain('admin');
  });

  it.each(['http://127.0.0.1:3001/?a=1', 'http://127.0.0.1:3001/?', 'http://127.0.0.1:3001/#top', 'http://127.0.0.1:3001/#'])(
    'must not carry a query or fragment: %s',
    (url) => {
      expectError(
        () => normalizeOptions({ members: [{ url }] }),
        'members[0].url',
        url,
        `members[0].url must not contain a query or fragment, got ${JSON.stringify(url)}`,
      );
    },
  );

  it('accepts an IPv6 literal and derives a token route from it', () => {
    const [member] = normalizeOptions({ members: [{ url: 'http://[::1]:8080' }] }).members;
    expect(member!.url.hostname).toBe('[::1]');
    expect(member!.url.port).toBe('8080');
    expect(member!.route).toBe('1-8080');
  });

  it('accepts a path prefix', () => {
    expect(normalizeOptions({ members: [{ url: 'http://127.0.0.1:3001/app/' }] }).members[0]!.url.pathname).toBe('/app/');
  });

  it('rejects a duplicate, compared after normalisation (href)', () => {
    expectError(() => normalizeOptions({ members: [{ url: U1 }, { url: U1 }] }), 'members[1].url', U1, `members[1].url duplicates another member, got "${U1}"`);
    expectError(
      () => normalizeOptions({ members: [{ url: 'http://127.0.0.1:80' }, { url: 'HTTP://127.0.0.1/' }] }),
      'members[1].url',
      'HTTP://127.0.0.1/',
      'members[1].url duplicates another member, got "HTTP://127.0.0.1/"',
    );
  });

  it('treats the same host:port with different paths as different members', () => {
    const config = normalizeOptions({ members: [{ url: 'http://127.0.0.1:1/a' }, { url: 'http://127.0.0.1:1/b' }, { url: 'http://127.0.0.1:1/c' }] });
    expect(config.members.map((m) => m.route)).toEqual(['127_0_0_1-1', '127_0_0_1-1-2', '127_0_0_1-1-3']);
  });
});

describe('member route', () => {
  it('is derived from host and port, unique across ports and default ports', () => {
    const config = normalizeOptions({
      members: [{ url: U1 }, { url: U2 }, { url: 'http://192.0.2.2' }, { url: 'https://192.0.2.2' }, { url: 'http://pi-2.local:8080' }],
    });
    expect(config.members.map((m) => m.route)).toEqual(['127_0_0_1-3001', '127_0_0_1-3002', '192_0_2_2-80', '192_0_2_2-443', 'pi_2_local-8080']);
  });

  it.each([
    ['a b', '"a b"'],
    ['a;b', '"a;b"'],
    ['a,b', '"a,b"'],
    ['', '""'],
    [5, '5'],
  ])('rejects %j', (route, shown) => {
    expectError(
      () => normalizeOptions(firstMember({ route })),
      'members[0].route',
      route,
      `members[0].route must be 1 to 64 token characters (letters, digits, or !#$%&'*+-.^_\`|~), got ${shown}`,
    );
  });

  it('rejects a route longer than 64 characters', () => {
    const route = 'r'.repeat(65);
    expect(configError(() => normalizeOptions(firstMember({ route }))).path).toBe('members[0].route');
  });

  it('rejects a duplicate route', () => {
    expectError(
      () =>
        normalizeOptions({
          members: [
            { url: U1, route: 'pi' },
            { url: U2, route: 'pi' },
          ],
        }),
      'members[1].route',
      'pi',
      'members[1].route duplicates another member\'s route, got "pi"',
    );
  });
});

describe('per-member timers', () => {
  it('validates retryMs and timeoutMs on a member', () => {
    expectError(
      () => normalizeOptions(firstMember({ retryMs: -1 })),
      'members[0].retryMs',
      -1,
      'members[0].retryMs must be an integer from 0 to 2147483647, got -1',
    );
    expectError(
      () => normalizeOptions(firstMember({ timeoutMs: 0 })),
      'members[0].timeoutMs',
      0,
      'members[0].timeoutMs must be an integer from 1 to 2147483647, got 0',
    );
  });
});

describe('strategy', () => {
  it('accepts each built-in name and a strategy object as it is', () => {
    for (const name of ['byrequests', 'bytraffic', 'bybusyness', 'roundrobin']) expect(normalizeOptions({ members: [], strategy: name }).strategy).toBe(name);
    const custom = { name: 'mine', pick: () => undefined, requestEnd: () => {} };
    expect(normalizeOptions({ members: [], strategy: custom }).strategy).toBe(custom);
  });

  it('rejects an unknown name and a non-object', () => {
    expectError(
      () => normalizeOptions({ members: [], strategy: 'random' }),
      'strategy',
      'random',
      /^strategy must be one of 'byrequests', 'bytraffic', 'bybusyness', 'roundrobin'(, '\w+')*, got "random"$/,
    );
    expectError(() => normalizeOptions({ members: [], strategy: 42 }), 'strategy', 42, /^strategy must be one of byrequests, .* or a strategy object, got 42$/);
    expectError(() => normalizeOptions({ members: [], strategy: null }), 'strategy', null, /^strategy must be one of .* or a strategy object, got null$/);
  });

  it('requires a name and a pick function on a strategy object', () => {
    expectError(
      () => normalizeOptions({ members: [], strategy: { name: 'x' } }),
      'strategy.pick',
      undefined,
      'strategy.pick must be a function (candidates, context) => member | undefined, got undefined',
    );
    expectError(
      () => normalizeOptions({ members: [], strategy: { name: 'x', pick: 'first' } }),
      'strategy.pick',
      'first',
      'strategy.pick must be a function (candidates, context) => member | undefined, got "first"',
    );
    expectError(
      () => normalizeOptions({ members: [], strategy: { pick: () => undefined } }),
      'strategy.name',
      undefined,
      'strategy.name must be a non-empty string, got undefined',
    );
    expectError(
      () => normalizeOptions({ members: [], strategy: { name: '', pick: () => undefined } }),
      'strategy.name',
      '',
      'strategy.name must be a non-empty string, got ""',
    );
  });

  it.each(['requestStart', 'requestEnd', 'routed', 'membersChanged', 'reset'])('rejects a %s hook that is not a function', (hook) => {
    expectError(
      () => normalizeOptions({ members: [], strategy: { name: 'x', pick: () => undefined, [hook]: 5 } }),
      `strategy.${hook}`,
      5,
      `strategy.${hook} must be a function when given, got 5`,
    );
  });
});

describe('balancer timers and flags', () => {
  it.each([
    [0, '0'],
    [-1, '-1'],
    [1.5, '1.5'],
    ['5', '"5"'],
    [Number.NaN, 'NaN'],
    [2 ** 31, '2147483648'],
  ])('timeoutMs rejects %s', (timeoutMs, shown) => {
    expectError(() => normalizeOptions({ members: [], timeoutMs }), 'timeoutMs', timeoutMs, `timeoutMs must be an integer from 1 to 2147483647, got ${shown}`);
  });

  it.each([
    [-1, '-1'],
    [1.5, '1.5'],
    ['5', '"5"'],
  ])('retryMs rejects %s', (retryMs, shown) => {
    expectError(() => normalizeOptions({ members: [], retryMs }), 'retryMs', retryMs, `retryMs must be an integer from 0 to 2147483647, got ${shown}`);
  });

  it('preserveHost must be a boolean', () => {
    expectError(() => normalizeOptions({ members: [], preserveHost: 'yes' }), 'preserveHost', 'yes', 'preserveHost must be true or false, got "yes"');
    expectError(() => normalizeOptions({ members: [], preserveHost: 1 }), 'preserveHost', 1, 'preserveHost must be true or false, got 1');
  });
});

describe('createBalancer validates before it builds anything', () => {
  it('throws the same error', () => {
    expectError(() => createBalancer(secondMember({ weight: 0 }) as never), 'members[1].weight', 0, 'members[1].weight must be a number from 1 to 100, got 0');
  });

  it('common mistakes are compile-time errors too (checked by tsc --noEmit)', () => {
    expect(() =>
      createBalancer({
        members: [
          {
            url: U1,
            // @ts-expect-error weight is a number, not a string
            weight: '2',
          },
        ],
      }),
    ).toThrow(BalancerConfigError);
    expect(() =>
      createBalancer({
        members: [
          {
            url: U1,
            // @ts-expect-error not a member status
            status: 'active',
          },
        ],
      }),
    ).toThrow(BalancerConfigError);
    expect(() =>
      createBalancer({
        members: [
          {
            url: U1,
            // @ts-expect-error misspelt member option
            wieght: 2,
          },
        ],
      }),
    ).toThrow(BalancerConfigError);
    expect(() =>
      createBalancer({
        members: [],
        // @ts-expect-error unknown balancer option
        retries: 3,
      }),
    ).toThrow(BalancerConfigError);
    expect(() =>
      createBalancer({
        members: [],
        // @ts-expect-error not a built-in strategy name
        strategy: 'random',
      }),
    ).toThrow(BalancerConfigError);
    expect(() =>
      createBalancer({
        members: [],
        // @ts-expect-error milliseconds are a number
        timeoutMs: '5',
      }),
    ).toThrow(BalancerConfigError);
  });
});

describe('pool runtime API', () => {
  const twoMembers = () => buildPool([{ route: 'a' }, { route: 'b', weight: 2 }]);

  it('names an unknown route', () => {
    const { pool } = twoMembers();
    const message = 'route must name a member of the pool, got "nope"';
    expectError(() => pool.drain('nope'), 'route', 'nope', message);
    expectError(() => pool.disable('nope'), 'route', 'nope', message);
    expectError(() => pool.enable('nope'), 'route', 'nope', message);
    expectError(() => pool.remove('nope'), 'route', 'nope', message);
    expectError(() => pool.setWeight('nope', 2), 'route', 'nope', message);
    expectError(() => pool.setStatus('nope', 'drain'), 'route', 'nope', message);
    expect(pool.get('nope')).toBeUndefined();
  });

  it('setWeight validates like the option and leaves the member unchanged on error', () => {
    const { pool, member } = twoMembers();
    expectError(() => pool.setWeight('b', 0), 'weight', 0, 'weight must be a number from 1 to 100, got 0');
    expectError(() => pool.setWeight('b', '3' as never), 'weight', '3', 'weight must be a number from 1 to 100, got "3"');
    expect([member('b').weight, member('b').lbfactor]).toEqual([2, 200]);
    pool.setWeight('b', 7.5);
    expect([member('b').weight, member('b').lbfactor]).toEqual([7.5, 750]);
  });

  it('setStatus validates and leaves the member unchanged on error', () => {
    const { pool, member } = twoMembers();
    pool.drain('a');
    expectError(
      () => pool.setStatus('a', 'foo' as never),
      'status',
      'foo',
      "status must be one of 'active', 'disabled', 'standby', 'spare', 'drain', 'stopped', got \"foo\"",
    );
    expect(member('a').status).toBe('drain');
  });

  it('add validates like the options, against the members already there', () => {
    const { pool } = twoMembers();
    const existingUrl = pool.get('a')!.url.href;
    expectError(() => pool.add({ url: 'http://127.0.0.1:4000', route: 'a' }), 'member.route', 'a', 'member.route duplicates another member\'s route, got "a"');
    expectError(() => pool.add({ url: existingUrl, route: 'c' }), 'member.url', existingUrl, `member.url duplicates another member, got "${existingUrl}"`);
    expectError(() => pool.add({ url: 'http://127.0.0.1:4000', weight: 0 }), 'member.weight', 0, 'member.weight must be a number from 1 to 100, got 0');
    expectError(() => pool.add({ url: 'http://127.0.0.1:4000', colour: 'red' } as never), 'member.colour', 'red', /^member\.colour is not a known option/);
    expect(pool.members.map((m) => m.route)).toEqual(['a', 'b']);
    pool.remove('a');
    expect(pool.add({ url: existingUrl, route: 'a' }).route).toBe('a'); // free again once removed
    expect(pool.members.map((m) => m.route)).toEqual(['b', 'a']);
  });
});
