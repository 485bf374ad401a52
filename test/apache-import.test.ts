// fromApacheConfig: Apache httpd mod_proxy_balancer configuration to proxy-balancer options.
// Pure parsing: the addresses (RFC 5737 documentation range 192.0.2.x, the study's Pi addresses in the example config, example.com) are configuration data; nothing connects.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PI_ADDRESSES } from '../examples/pi-cluster/topology.js';
import { describe, expect, it } from 'vitest';
import { ApacheConfigError, fromApacheConfig, type ApacheImport } from '../src/apache/import.js';
import { parseApacheConfig, splitWords } from '../src/apache/lexer.js';
import { normalizeOptions } from '../src/config.js';
import { createBalancer } from '../src/index.js';

const fixtures = fileURLToPath(new URL('./fixtures/apache/', import.meta.url));
const fixture = (name: string): ApacheImport => fromApacheConfig(readFileSync(`${fixtures}${name}`, 'utf8'));
/** The study's own front-end config ships as example configuration, beside the Pi example. */
const studyConfig = (): ApacheImport =>
  fromApacheConfig(readFileSync(fileURLToPath(new URL('../examples/pi-cluster/apache/httpd.conf', import.meta.url)), 'utf8'));

/** The one balancer of a result. */
function only(result: ApacheImport): ApacheImport['balancers'][number] {
  expect(result.balancers).toHaveLength(1);
  return result.balancers[0]!;
}

/** Unsupported entries without their reasons, for exact comparison. */
function reported(result: ApacheImport): Array<{ directive: string; parameter?: string; line: number }> {
  return result.unsupported.map(({ directive, parameter, line }) => (parameter === undefined ? { directive, line } : { directive, parameter, line }));
}

describe("the study's Raspberry Pi front end", () => {
  it('imports the two-member balancer and its mount path', () => {
    const result = studyConfig();
    expect(result.balancers).toEqual([
      {
        name: 'mycluster',
        mountPath: '/',
        options: { members: [{ url: `${PI_ADDRESSES.server1}:80` }, { url: `${PI_ADDRESSES.server2}:80` }] },
        line: 3,
      },
    ]);
    expect(reported(result)).toEqual([]);
    expect(result.ignored).toBe(1); // ProxyPassReverse: rewriting is on by default
  });

  it('imports weights, tiers, a standby, routes, sticky cookie and health checks through VirtualHost and IfModule', () => {
    const result = fixture('pi-cluster-tuned.conf');
    expect(only(result)).toEqual({
      name: 'mycluster',
      mountPath: '/',
      line: 20,
      options: {
        members: [
          { url: 'http://192.0.2.2:80', route: 'pi2', weight: 2 },
          { url: 'http://192.0.2.3:80', route: 'pi3', weight: 1 },
          { url: 'http://192.0.2.4:80', route: 'spare', lbset: 1, status: 'standby' },
        ],
        sticky: { cookie: 'ROUTEID', urlParam: 'ROUTEID', setCookie: { path: '/' } },
        healthCheck: { method: 'GET', path: '/health' },
      },
    });
    expect(reported(result)).toEqual([]);
    // LoadModule x4, Listen, ServerName, DocumentRoot, ErrorLog, and ProxyPassReverse (on by
    // default); ProxyRequests Off matches and is not counted.
    expect(result.ignored).toBe(9);
  });

  it.each([
    ['loadfactor=3', { weight: 3 }],
    ['loadfactor=2.5', { weight: 2.5 }],
    ['lbset=2', { lbset: 2 }],
    ['status=+H', { status: 'standby' }],
    ['route=pi2', { route: 'pi2' }],
    ['route=', {}],
    ['retry=30', { retryMs: 30_000 }],
    ['timeout=10', { timeoutMs: 10_000 }],
  ])('maps the member parameter %s', (parameter, expected) => {
    const result = fromApacheConfig(`<Proxy "balancer://mycluster">
    BalancerMember "http://192.0.2.2:80" ${parameter}
    BalancerMember "http://192.0.2.3:80"
</Proxy>
ProxyPass "/" "balancer://mycluster/"`);
    expect(only(result).options.members[0]).toEqual({ url: 'http://192.0.2.2:80', ...expected });
    expect(result.unsupported).toEqual([]);
  });

  it('maps stickysession=ROUTEID to both the cookie and the URL parameter, and hcmethod/hcuri to a health check', () => {
    const { options } = only(
      fromApacheConfig(`<Proxy "balancer://mycluster">
    BalancerMember "http://192.0.2.2:80" route=pi2 hcmethod=GET hcuri=/health
    BalancerMember "http://192.0.2.3:80" route=pi3 hcmethod=GET hcuri=/health
    ProxySet stickysession=ROUTEID
</Proxy>
ProxyPass "/" "balancer://mycluster/"`),
    );
    expect(options.sticky).toEqual({ cookie: 'ROUTEID', urlParam: 'ROUTEID' });
    expect(options.healthCheck).toEqual({ method: 'GET', path: '/health' });
    expect(options.members.every((m) => m.healthCheck === undefined)).toBe(true);
  });
});

describe("the Apache manual's example configurations", () => {
  it('mod_proxy_balancer: two members mounted at /test', () => {
    const result = fixture('manual-balancer-basic.conf');
    expect(only(result)).toEqual({
      name: 'mycluster',
      mountPath: '/test',
      line: 3,
      options: { members: [{ url: 'http://192.0.2.50:80' }, { url: 'http://192.0.2.51:80' }] },
    });
    expect(reported(result)).toEqual([]);
  });

  it('mod_proxy_balancer: routes, stickysession and the Header Set-Cookie recipe written before the balancer', () => {
    const result = fixture('manual-balancer-sticky-cookie.conf');
    expect(only(result).options).toEqual({
      members: [
        { url: 'http://192.0.2.50:80', route: '1' },
        { url: 'http://192.0.2.51:80', route: '2' },
      ],
      sticky: { cookie: 'ROUTEID', urlParam: 'ROUTEID', setCookie: { path: '/' } },
    });
    expect(reported(result)).toEqual([]);
  });

  it('mod_proxy_balancer: COOKIE|urlparam on ProxyPass applies to the balancer defined after it', () => {
    const result = fixture('manual-balancer-sticky-url.conf');
    expect(only(result)).toMatchObject({ mountPath: '/test', line: 3 });
    expect(only(result).options.sticky).toEqual({ cookie: 'JSESSIONID', urlParam: 'jsessionid' });
    expect(reported(result)).toEqual([{ directive: 'ProxyPass', parameter: 'scolonpathdelim', line: 3 }]);
  });

  it('mod_proxy: the sample setup reports the ajp:// members and the single-server ProxyPass', () => {
    const result = fixture('manual-proxy-sample.conf');
    expect(only(result)).toEqual({
      name: 'mycluster',
      mountPath: '/',
      line: 4,
      options: { members: [], sticky: { cookie: 'JSESSIONID', urlParam: 'jsessionid', failover: false } },
    });
    expect(reported(result)).toEqual([
      { directive: 'ProxyPass', line: 3 },
      { directive: 'BalancerMember', line: 6 },
      { directive: 'BalancerMember', line: 7 },
      { directive: 'BalancerMember', line: 9 },
    ]);
    expect(result.unsupported[1]!.reason).toMatch(/ajp: scheme/);
  });

  it('mod_proxy: hot spares (status=+R)', () => {
    const { options } = only(fixture('manual-proxy-hot-spares.conf'));
    expect(options.members.map((m) => m.status)).toEqual([undefined, undefined, 'spare', 'spare']);
  });

  it('mod_proxy: hot standby with a decimal loadfactor and lbmethod=bytraffic', () => {
    const result = fixture('manual-proxy-hot-standby.conf');
    expect(only(result).options).toEqual({
      members: [
        { url: 'http://1.2.3.4:8009', weight: 1 },
        { url: 'http://1.2.3.5:8009', weight: 2.25 },
        { url: 'http://1.2.3.6:8009', status: 'standby' },
      ],
      strategy: 'bytraffic',
    });
    expect(result.unsupported).toEqual([]);
  });

  it('mod_proxy: ProxySet in a section, on a worker URL, and naming an undefined balancer', () => {
    const result = fixture('manual-proxyset.conf');
    expect(only(result)).toEqual({
      name: 'hotcluster',
      mountPath: undefined,
      line: 3,
      options: {
        members: [
          { url: 'http://www2.example.com:8080', weight: 1 },
          { url: 'http://www3.example.com:8080', weight: 2 },
        ],
        strategy: 'bytraffic',
      },
    });
    expect(reported(result)).toEqual([
      { directive: '<Proxy>', line: 9 },
      { directive: 'ProxySet', line: 13 },
      { directive: 'ProxySet', line: 15 },
    ]);
  });

  it('mod_proxy_hcheck: per-member checks; expressions reported', () => {
    const result = fixture('manual-hcheck.conf');
    expect(only(result).options.members).toEqual([
      { url: 'http://www.example.com/', healthCheck: { method: 'GET', path: '/status.php' } },
      { url: 'http://www2.example.com/', healthCheck: { method: 'HEAD', intervalMs: 10_000 } },
      { url: 'http://www3.example.com/', healthCheck: { method: 'TCP', intervalMs: 5000, passes: 2, fails: 3 } },
      { url: 'http://www4.example.com/' },
    ]);
    expect(reported(result)).toEqual([
      { directive: 'ProxyHCExpr', line: 3 },
      { directive: 'ProxyHCExpr', line: 4 },
      { directive: 'ProxyHCExpr', line: 5 },
      { directive: 'BalancerMember', parameter: 'hcexpr', line: 8 },
      { directive: 'BalancerMember', parameter: 'hcexpr', line: 9 },
    ]);
  });

  it("mod_proxy_hcheck: a ProxyHCTemplate is expanded with httpd's template defaults", () => {
    const result = fixture('manual-hcheck-template.conf');
    expect(only(result)).toMatchObject({ mountPath: '/apps', line: 4 });
    expect(only(result).options.healthCheck).toEqual({ method: 'TCP', intervalMs: 5000, passes: 1, fails: 1 });
    expect(result.unsupported).toEqual([]);
  });
});

describe('every imported balancer is valid configuration', () => {
  const files = readdirSync(fixtures).filter((f) => f.endsWith('.conf'));

  it.each(files)('%s passes normalizeOptions (current keys) and survives JSON', (file) => {
    const result = fixture(file);
    expect(result.balancers.length).toBeGreaterThan(0);
    for (const { options } of result.balancers) {
      expect(() => normalizeOptions(options)).not.toThrow();
      expect(JSON.parse(JSON.stringify(options))).toEqual(options);
    }
  });
});

describe('balancer parameters (ProxySet, ProxyPass, <Proxy> line)', () => {
  const withParams = (where: 'ProxySet' | 'ProxyPass' | 'Proxy', params: string): ApacheImport =>
    fromApacheConfig(
      [
        `<Proxy "balancer://c"${where === 'Proxy' ? ` ${params}` : ''}>`,
        '  BalancerMember http://192.0.2.2:80 route=a',
        '  BalancerMember http://192.0.2.3:80 route=b',
        where === 'ProxySet' ? `  ProxySet ${params}` : '',
        '</Proxy>',
        `ProxyPass /app balancer://c/${where === 'ProxyPass' ? ` ${params}` : ''}`,
      ].join('\n'),
    );

  it.each(['ProxySet', 'ProxyPass', 'Proxy'] as const)('are read the same on %s', (where) => {
    const result = withParams(
      where,
      'lbmethod=bybusyness stickysession=JSESSIONID|jsessionid stickysessionsep=! nofailover=On failonstatus=500,503 failontimeout=On maxattempts=2 forcerecovery=Off',
    );
    expect(result.unsupported).toEqual([]);
    const { members, ...rest } = only(result).options;
    expect(members).toHaveLength(2);
    expect(rest).toEqual({
      strategy: 'bybusyness',
      sticky: { cookie: 'JSESSIONID', urlParam: 'jsessionid', separator: '!', failover: false },
      failOnStatus: [500, 503],
      failOnTimeout: true,
      retry: { attempts: 3 },
      forceRecovery: false,
    });
  });

  it.each([
    ['stickysessionsep=Off', { sticky: { cookie: 'S', urlParam: 'S', separator: false } }],
    ['nofailover=off', { sticky: { cookie: 'S', urlParam: 'S', failover: true } }],
    ['scolonpathdelim=Off', { sticky: { cookie: 'S', urlParam: 'S' } }],
    ['maxattempts=0', { sticky: { cookie: 'S', urlParam: 'S' }, retry: { attempts: 1 } }],
    ['"failonstatus=502, 503"', { sticky: { cookie: 'S', urlParam: 'S' }, failOnStatus: [502, 503] }],
    ['failonstatus=', { sticky: { cookie: 'S', urlParam: 'S' }, failOnStatus: [] }],
    ['lbmethod=bytraffic', { sticky: { cookie: 'S', urlParam: 'S' }, strategy: 'bytraffic' }],
  ])('%s', (params, expected) => {
    const result = withParams('ProxySet', `stickysession=S ${params}`);
    expect(result.unsupported).toEqual([]);
    const { members: _members, ...rest } = only(result).options;
    expect(rest).toEqual(expected);
  });

  it("the last value of a repeated parameter wins, as in httpd's parameter table", () => {
    const result = withParams('ProxySet', 'lbmethod=bytraffic LBMethod=bybusyness');
    expect(only(result).options.strategy).toBe('bybusyness');
  });
});

describe('scope-wide settings', () => {
  it('ProxyPreserveHost, ProxyTimeout and Timeout apply from the scope the balancer is mounted in', () => {
    const result = fromApacheConfig(`Timeout 300
ProxyPreserveHost On
<VirtualHost *:80>
  ProxyTimeout 20
  ProxyPass /a balancer://a/
</VirtualHost>
<VirtualHost *:81>
  ProxyPreserveHost Off
  ProxyPass /b balancer://b/
</VirtualHost>
<VirtualHost *:82>
  <Location /c>
    ProxyPass balancer://c/
    ProxyPreserveHost Off
  </Location>
</VirtualHost>
<Proxy balancer://a>
  BalancerMember http://192.0.2.2:80
</Proxy>
<Proxy balancer://b>
  BalancerMember http://192.0.2.3:80 timeout=7
  ProxyPreserveHost On
</Proxy>
<Proxy balancer://c>
  BalancerMember http://192.0.2.4:80
</Proxy>`);
    expect(result.unsupported).toEqual([]);
    const byName = Object.fromEntries(result.balancers.map((b) => [b.name, b]));
    expect(byName.a).toMatchObject({ mountPath: '/a', line: 5, options: { timeoutMs: 20_000, preserveHost: true } });
    expect(byName.b).toMatchObject({ mountPath: '/b', options: { timeoutMs: 7000, preserveHost: true } });
    expect(byName.b!.options.members[0]).toEqual({ url: 'http://192.0.2.3:80' });
    expect(byName.c).toMatchObject({ mountPath: '/c', options: { timeoutMs: 300_000, preserveHost: false } });
  });

  it('hoists retry, timeout, connectiontimeout and health checks only when every member agrees', () => {
    const result = fromApacheConfig(`<Proxy balancer://same>
  BalancerMember http://192.0.2.2:80 retry=5 timeout=9 connectiontimeout=250ms hcmethod=TCP hcinterval=2
  BalancerMember http://192.0.2.3:80 retry=5 timeout=9 connectiontimeout=250ms hcmethod=TCP hcinterval=2
</Proxy>
<Proxy balancer://mixed>
  BalancerMember http://192.0.2.2:80 retry=5 timeout=9 hcmethod=TCP
  BalancerMember http://192.0.2.3:80 retry=0 timeout=8
</Proxy>`);
    const [same, mixed] = result.balancers;
    expect(same!.options).toEqual({
      members: [{ url: 'http://192.0.2.2:80' }, { url: 'http://192.0.2.3:80' }],
      retryMs: 5000,
      timeoutMs: 9000,
      connectTimeoutMs: 250,
      healthCheck: { method: 'TCP', intervalMs: 2000 },
    });
    expect(mixed!.options).toEqual({
      members: [
        { url: 'http://192.0.2.2:80', retryMs: 5000, timeoutMs: 9000, healthCheck: { method: 'TCP' } },
        { url: 'http://192.0.2.3:80', retryMs: 0, timeoutMs: 8000 },
      ],
    });
    expect(result.unsupported).toEqual([]);
  });
});

describe('Apache syntax', () => {
  it('joins continuation lines and reports the line a directive starts on', () => {
    const result = fromApacheConfig(
      ['<Proxy balancer://c>', '  BalancerMember http://192.0.2.2:80 \\', '      loadfactor=4 \\', '      smax=9', '</Proxy>'].join('\n'),
    );
    expect(only(result).options.members[0]).toEqual({ url: 'http://192.0.2.2:80', weight: 4 });
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', parameter: 'smax', line: 2 }]);
  });

  it('a continuation joins without adding a space, and a backslash followed by a space is no continuation', () => {
    expect(parseApacheConfig('Foo ab\\\ncd\nBar x\\ \nBaz')).toEqual([
      { name: 'Foo', args: ['abcd'], line: 1 },
      { name: 'Bar', args: ['x\\'], line: 3 },
      { name: 'Baz', args: [], line: 4 },
    ]);
  });

  it('reads CRLF line endings', () => {
    const result = fromApacheConfig('<Proxy balancer://c>\r\n  BalancerMember http://192.0.2.2:80 \\\r\n  route=a\r\n</Proxy>\r\n');
    expect(only(result).options.members).toEqual([{ url: 'http://192.0.2.2:80', route: 'a' }]);
  });

  it('treats # as a comment only at the start of a line, as httpd does', () => {
    const result = fromApacheConfig(`# <Proxy balancer://commented>
   # BalancerMember http://192.0.2.9:80
<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 # not a comment
</Proxy>`);
    expect(result.balancers.map((b) => b.name)).toEqual(['c']);
    expect(only(result).options.members).toEqual([]);
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', line: 4 }]);
    expect(result.unsupported[0]!.reason).toMatch(/takes one member URL/);
  });

  it('splits words as ap_getword_conf: double and single quotes, escapes, quotes only at a word start', () => {
    expect(splitWords(`"a b" 'c d' "e\\"f" 'g\\'h' i\\\\j "k\\\\l" m"n" "o"p ""`)).toEqual(['a b', 'c d', 'e"f', "g'h", 'i\\j', 'k\\l', 'm"n"', 'o', 'p', '']);
  });

  it('accepts quoted and bare arguments and quoted key=value words alike', () => {
    const result = fromApacheConfig(`<Proxy 'balancer://c'>
  BalancerMember 'http://192.0.2.2:80' "route=a b"
  BalancerMember http://192.0.2.3:80 route=c
</Proxy>`);
    expect(only(result).options.members).toEqual([{ url: 'http://192.0.2.2:80' }, { url: 'http://192.0.2.3:80', route: 'c' }]);
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', parameter: 'route', line: 2 }]);
  });

  it('is case-insensitive in directive names, section names, parameter keys, On/Off, status letters and hcmethod', () => {
    const result = fromApacheConfig(`<ifmodule MOD_PROXY.C>
<PROXY "BALANCER://MyCluster">
  balancermember "http://192.0.2.2:80" LoadFactor=3 STATUS=+h HCMETHOD=get11 HcUri=/up
  proxyset LBMETHOD=bytraffic NoFailover=ON StickySession=ROUTEID
</proxy>
</IFMODULE>
proxypass "/" "Balancer://mycluster/"
PROXYPRESERVEHOST on`);
    expect(result.unsupported).toEqual([]);
    expect(only(result)).toEqual({
      name: 'mycluster',
      mountPath: '/',
      line: 2,
      options: {
        members: [{ url: 'http://192.0.2.2:80', weight: 3, status: 'standby' }],
        strategy: 'bytraffic',
        preserveHost: true,
        sticky: { cookie: 'ROUTEID', urlParam: 'ROUTEID', failover: false },
        healthCheck: { method: 'GET', path: '/up' },
      },
    });
  });

  it("keeps lbmethod names case-sensitive, as httpd's provider lookup is", () => {
    const result = fromApacheConfig('<Proxy balancer://c>\n  ProxySet lbmethod=ByTraffic\n</Proxy>');
    expect(only(result).options.strategy).toBeUndefined();
    expect(reported(result)).toEqual([{ directive: 'ProxySet', parameter: 'lbmethod', line: 2 }]);
  });

  it('substitutes ${NAME} from Define lines above it and leaves other names as written', () => {
    const result = fromApacheConfig(`Define BACKEND 192.0.2.2
<Proxy balancer://c>
  BalancerMember http://\${BACKEND}:80
  BalancerMember http://\${OTHER}:80
</Proxy>
UnDefine BACKEND
ProxyPass /\${BACKEND} balancer://c/`);
    expect(only(result).mountPath).toBeUndefined();
    expect(only(result).options.members).toEqual([{ url: 'http://192.0.2.2:80' }]);
    expect(reported(result)).toEqual([
      { directive: 'BalancerMember', line: 4 },
      { directive: 'ProxyPass', line: 7 },
    ]);
    expect(result.unsupported[0]!.reason).toMatch(/uses \$\{OTHER\}, which no Define above it sets/);
    expect(result.unsupported[1]!.reason).toMatch(/uses \$\{BACKEND\}/);
  });

  it('takes the BalancerMember balancer://name url form outside a section, with its parameters in any position', () => {
    const result = fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80 route=a
BalancerMember loadfactor=2 balancer://c http://192.0.2.3:80
ProxySet balancer://c lbmethod=bybusyness
ProxyPass /app balancer://c`);
    expect(only(result)).toEqual({
      name: 'c',
      mountPath: '/app',
      line: 1,
      options: {
        members: [
          { url: 'http://192.0.2.2:80', route: 'a' },
          { url: 'http://192.0.2.3:80', weight: 2 },
        ],
        strategy: 'bybusyness',
      },
    });
    expect(result.unsupported).toEqual([]);
  });

  it('status letters set with + (the default) and clear with -, the sign carrying over', () => {
    const statusOf = (value: string): unknown =>
      only(fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80 status=${value}`)).options.members[0]!.status;
    expect(statusOf('D')).toBe('disabled');
    expect(statusOf('+S')).toBe('stopped');
    expect(statusOf('N')).toBe('drain');
    expect(statusOf('R')).toBe('spare');
    expect(statusOf('H-H')).toBeUndefined();
    expect(statusOf('-E')).toBeUndefined();
    expect(statusOf('DH')).toBe('disabled');
    expect(statusOf('S-ED')).toBe('stopped');
    expect(statusOf('+H-DN')).toBe('standby');
  });

  it('reads units in connectiontimeout and hcinterval as ap_timeout_parameter_parse does', () => {
    const connect = (value: string): unknown =>
      only(fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80 connectiontimeout=${value}`)).options.connectTimeoutMs;
    expect(connect('3')).toBe(3000);
    expect(connect('3s')).toBe(3000);
    expect(connect('300ms')).toBe(300);
    expect(connect('2mi')).toBe(120_000);
    expect(connect('1h')).toBe(3_600_000);
    const interval = (value: string): unknown =>
      (only(fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80 hcmethod=TCP hcinterval=${value}`)).options.healthCheck || undefined)?.intervalMs;
    expect(interval('100ms')).toBe(100);
    expect(interval('15')).toBe(15_000);
  });

  it('gives an hcuri without a leading slash the slash httpd puts before it', () => {
    const { options } = only(fromApacheConfig('BalancerMember balancer://c http://192.0.2.2:80/app hcmethod=GET hcuri=health'));
    expect(options.healthCheck).toEqual({ method: 'GET', path: '/health' });
  });

  it('hcpasses=0 and hcfails=0 behave as 1 in httpd', () => {
    const { options } = only(fromApacheConfig('BalancerMember balancer://c http://192.0.2.2:80 hcmethod=HEAD hcpasses=0 hcfails=0'));
    expect(options.healthCheck).toEqual({ method: 'HEAD', passes: 1, fails: 1 });
  });

  it('leaves out only the health-check fields proxy-balancer refuses, and keeps the check', () => {
    const result = fromApacheConfig('BalancerMember balancer://c http://192.0.2.2:80 hcmethod=GET hcuri=/up#x hcpasses=5000 hcfails=2 hcinterval=10');
    expect(only(result).options.healthCheck).toEqual({ method: 'GET', fails: 2, intervalMs: 10_000 });
    expect(reported(result)).toEqual([
      { directive: 'BalancerMember', parameter: 'hcuri', line: 1 },
      { directive: 'BalancerMember', parameter: 'hcpasses', line: 1 },
    ]);
    expect(() => normalizeOptions(only(result).options)).not.toThrow();
  });

  it('loadfactor is truncated to hundredths by httpd, so 100.001 is accepted as 100', () => {
    const { options } = only(fromApacheConfig('BalancerMember balancer://c http://192.0.2.2:80 loadfactor=100.001'));
    expect(options.members[0]!.weight).toBe(100);
  });

  it('names balancers in lower case, ignores a path on the section URL, and keeps the first-mention line', () => {
    const result = fromApacheConfig(`ProxyPass /x balancer://Pi/
<Proxy "proxy:balancer://PI/ignored/path">
  BalancerMember http://192.0.2.2:80
</Proxy>`);
    expect(only(result)).toMatchObject({ name: 'pi', mountPath: '/x', line: 1 });
    expect(only(result).options.members).toHaveLength(1);
  });

  it('skips unrelated directives silently and counts them', () => {
    const result = fromApacheConfig(`ServerRoot "/etc/apache2"
Listen 8080
<Directory /var/www>
  Options Indexes
  Require all granted
</Directory>
Header set X-Frame-Options DENY
SetHandler server-status
<VirtualHost *:8080>
  DocumentRoot /var/www
  <Location /slow>
    Timeout 600
  </Location>
</VirtualHost>`);
    expect(result).toEqual({ balancers: [], unsupported: [], ignored: 8 });
  });
});

describe('structure errors throw ApacheConfigError naming the line', () => {
  it.each([
    [
      'an unclosed <Proxy>',
      '<VirtualHost *:80>\n</VirtualHost>\n<Proxy "balancer://c">\n  BalancerMember http://192.0.2.2:80\n',
      3,
      /<Proxy> section is never closed/,
    ],
    ['an unclosed <VirtualHost> around a closed <Proxy>', '<VirtualHost *:80>\n<Proxy balancer://c>\n</Proxy>\n', 1, /<VirtualHost> section is never closed/],
    ['a </Proxy> without <Proxy>', 'BalancerMember balancer://c http://192.0.2.2:80\n</Proxy>', 2, /<\/Proxy> without a matching <Proxy>/],
    [
      'a section closed under another name',
      '<VirtualHost *:80>\n<Proxy balancer://c>\n</VirtualHost>\n</Proxy>',
      3,
      /expected <\/Proxy> \(opened on line 2\) but saw <\/VirtualHost>/,
    ],
    ['a section line without >', '<Proxy "balancer://c"\n</Proxy>', 1, /missing its closing '>'/],
  ])('%s', (_what, text, line, message) => {
    let thrown: unknown;
    try {
      fromApacheConfig(text);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ApacheConfigError);
    expect(thrown).toMatchObject({ code: 'ERR_APACHE_CONFIG', line });
    expect((thrown as Error).message).toMatch(new RegExp(`^line ${line}: `));
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('every unsupported report names the directive, the parameter and the line', () => {
  /** Members and mount that make a valid balancer `c`, so a case adds only what it tests. */
  const member = (params: string): string => `<Proxy balancer://c>\n  BalancerMember http://192.0.2.2:80 ${params}\n</Proxy>`;
  const balancer = (params: string): string => `<Proxy balancer://c>\n  BalancerMember http://192.0.2.2:80\n  ProxySet ${params}\n</Proxy>`;

  it.each([
    // Member parameters: line 2, inside the <Proxy> section.
    ['loadfactor out of range', member('loadfactor=0.5'), 'BalancerMember', 'loadfactor', 2, /from 1 to 100/],
    ['loadfactor above 100', member('loadfactor=101'), 'BalancerMember', 'loadfactor', 2, /from 1 to 100/],
    ['lbset out of range', member('lbset=100'), 'BalancerMember', 'lbset', 2, /0 to 99/],
    ['lbset not a number', member('lbset=x'), 'BalancerMember', 'lbset', 2, /whole number/],
    ['route too long for httpd', member(`route=${'r'.repeat(64)}`), 'BalancerMember', 'route', 2, /63 characters/],
    ['route not a token', member('route=a,b'), 'BalancerMember', 'route', 2, /token characters.*imported without it/],
    ['status with an unknown letter', member('status=X'), 'BalancerMember', 'status', 2, /unknown letter X/],
    ['status ending in a sign', member('status=H+'), 'BalancerMember', 'status', 2, /ends without a letter/],
    ['status combining standby and spare', member('status=HR'), 'BalancerMember', 'status', 2, /combination H\+R/],
    ['status I (ignore errors)', member('status=I'), 'BalancerMember', 'status', 2, /I \(ignore errors/],
    ['status E with D', member('status=DE'), 'BalancerMember', 'status', 2, /E \(starts in the error state\).*imported as 'disabled'/],
    ['status C', member('status=C'), 'BalancerMember', 'status', 2, /health check failed/],
    ['status with internal flags', member('status=OGUF'), 'BalancerMember', 'status', 2, /internal: initialised.*internal: free slot/],
    ['retry with a unit', member('retry=500ms'), 'BalancerMember', 'retry', 2, /500ms means 500 s there/],
    ['retry negative', member('retry=-1'), 'BalancerMember', 'retry', 2, /whole number of seconds from 0/],
    ['timeout zero', member('timeout=0'), 'BalancerMember', 'timeout', 2, /from 1/],
    ['timeout too large for a timer', member('timeout=9999999'), 'BalancerMember', 'timeout', 2, /from 1 to 2147483/],
    ['connectiontimeout malformed', member('connectiontimeout=5x'), 'BalancerMember', 'connectiontimeout', 2, /at least 1 ms/],
    ['connectiontimeout zero', member('connectiontimeout=0'), 'BalancerMember', 'connectiontimeout', 2, /at least 1 ms/],
    ['redirect', member('redirect=b'), 'BalancerMember', 'redirect', 2, /redirect routes/],
    ['ping', member('ping=1'), 'BalancerMember', 'ping', 2, /100-continue/],
    ['upgrade', member('upgrade=websocket'), 'BalancerMember', 'upgrade', 2, /balancer\.upgrade/],
    ['max malformed', member('max=0'), 'BalancerMember', 'max', 2, />= 1/],
    ['min', member('min=1'), 'BalancerMember', 'min', 2, /no equivalent/],
    ['smax', member('smax=5'), 'BalancerMember', 'smax', 2, /no equivalent/],
    ['ttl', member('ttl=120'), 'BalancerMember', 'ttl', 2, /no equivalent/],
    ['acquire', member('acquire=100'), 'BalancerMember', 'acquire', 2, /no equivalent/],
    ['keepalive', member('keepalive=On'), 'BalancerMember', 'keepalive', 2, /no equivalent/],
    ['disablereuse', member('disablereuse=On'), 'BalancerMember', 'disablereuse', 2, /no equivalent/],
    ['enablereuse', member('enablereuse=On'), 'BalancerMember', 'enablereuse', 2, /no equivalent/],
    ['flushpackets', member('flushpackets=on'), 'BalancerMember', 'flushpackets', 2, /no equivalent/],
    ['flushwait', member('flushwait=10'), 'BalancerMember', 'flushwait', 2, /no equivalent/],
    ['iobuffersize', member('iobuffersize=65536'), 'BalancerMember', 'iobuffersize', 2, /no equivalent/],
    ['receivebuffersize', member('receivebuffersize=0'), 'BalancerMember', 'receivebuffersize', 2, /no equivalent/],
    ['addressttl', member('addressttl=60'), 'BalancerMember', 'addressttl', 2, /no equivalent/],
    ['responsefieldsize', member('responsefieldsize=0'), 'BalancerMember', 'responsefieldsize', 2, /no equivalent/],
    ['secret', member('secret=s'), 'BalancerMember', 'secret', 2, /no equivalent/],
    ['flusher', member('flusher=flush'), 'BalancerMember', 'flusher', 2, /no equivalent/],
    ['an unknown worker parameter', member('Weight=2'), 'BalancerMember', 'Weight', 2, /not an httpd worker parameter/],
    ['a word without =', member('loadfactor'), 'BalancerMember', undefined, 2, /takes one member URL/],
    ['hcmethod unknown', member('hcmethod=PING'), 'BalancerMember', 'hcmethod', 2, /unknown method/],
    ['hcmethod CPING', member('hcmethod=CPING'), 'BalancerMember', 'hcmethod', 2, /not implemented by httpd/],
    ['hcinterval under 100 ms', member('hcmethod=TCP hcinterval=50ms'), 'BalancerMember', 'hcinterval', 2, /at least 100 ms/],
    ['hcpasses negative', member('hcmethod=TCP hcpasses=-1'), 'BalancerMember', 'hcpasses', 2, />= 0/],
    ['hcfails not a number', member('hcmethod=TCP hcfails=x'), 'BalancerMember', 'hcfails', 2, />= 0/],
    ['hcuri too long', member(`hcmethod=GET hcuri=/${'u'.repeat(63)}`), 'BalancerMember', 'hcuri', 2, /63 characters/],
    // Values httpd takes and proxy-balancer's validation refuses: reported, so the options still load.
    [
      'hcpasses above 1000',
      member('hcmethod=TCP hcpasses=5000'),
      'BalancerMember',
      'hcpasses',
      2,
      /healthCheck\.passes must be an integer from 1 to 1000, got 5000; not imported, the rest/,
    ],
    [
      'hcFails above 1000, as written',
      member('hcmethod=TCP hcFails=1001'),
      'BalancerMember',
      'hcFails',
      2,
      /healthCheck\.fails must be an integer from 1 to 1000/,
    ],
    ['hcuri with a #', member('hcmethod=GET hcuri=/up#x'), 'BalancerMember', 'hcuri', 2, /healthCheck\.path must be a path .* without "#"/],
    ['an unknown hc parameter', member('hcmethod=TCP hcfoo=1'), 'BalancerMember', 'hcfoo', 2, /not an httpd worker parameter/],
    ['hcexpr', member('hcmethod=GET hcexpr=ok'), 'BalancerMember', 'hcexpr', 2, /expression ok/],
    ['hc parameters with no hcmethod', member('hcuri=/up'), 'BalancerMember', 'hcuri', 2, /hcmethod is NONE/],
    ['hcuri with TCP', member('hcmethod=TCP hcuri=/up'), 'BalancerMember', 'hcuri', 2, /ignored by httpd for hcmethod TCP/],
    ['hctemplate not defined earlier', member('hctemplate=later'), 'BalancerMember', 'hctemplate', 2, /no ProxyHCTemplate of that name/],
    // Balancer parameters: ProxySet on line 3.
    ['lbmethod heartbeat', balancer('lbmethod=heartbeat'), 'ProxySet', 'lbmethod', 3, /heartbeat/],
    ['lbmethod unknown', balancer('lbmethod=random'), 'ProxySet', 'lbmethod', 3, /unknown method/],
    ['stickysession with an empty cookie name', balancer('stickysession=|jsessionid'), 'ProxySet', 'stickysession', 3, /empty cookie name/],
    ['stickysession with an empty URL parameter', balancer('stickysession=JSESSIONID|'), 'ProxySet', 'stickysession', 3, /empty URL parameter name/],
    ['stickysessionsep too long', balancer('stickysession=S stickysessionsep=::'), 'ProxySet', 'stickysessionsep', 3, /single character or Off/],
    ['stickysessionsep without stickysession', balancer('stickysessionsep=!'), 'ProxySet', 'stickysessionsep', 3, /no effect without stickysession/],
    ['nofailover not On or Off', balancer('stickysession=S nofailover=yes'), 'ProxySet', 'nofailover', 3, /On or Off/],
    ['nofailover without stickysession', balancer('nofailover=On'), 'ProxySet', 'nofailover', 3, /no effect without stickysession/],
    ['scolonpathdelim On', balancer('stickysession=S scolonpathdelim=On'), 'ProxySet', 'scolonpathdelim', 3, /no equivalent/],
    ['scolonpathdelim not On or Off', balancer('scolonpathdelim=1'), 'ProxySet', 'scolonpathdelim', 3, /On or Off/],
    ['balancer timeout malformed', balancer('timeout=0'), 'ProxySet', 'timeout', 3, /at least|>= 1/],
    ['maxattempts negative', balancer('maxattempts=-1'), 'ProxySet', 'maxattempts', 3, />= 0/],
    ['maxattempts above 99', balancer('maxattempts=500'), 'ProxySet', 'maxattempts', 3, /retry\.attempts must be an integer from 1 to 100, got 501/],
    ['stickysession not a token', balancer('stickysession=my:sess'), 'ProxySet', 'stickysession', 3, /sticky\.cookie must be a cookie name/],
    [
      'stickysession URL parameter not a token',
      balancer('stickysession=S|a=b'),
      'ProxySet',
      'stickysession',
      3,
      /sticky\.urlParam must be a URL parameter name/,
    ],
    [
      'stickysessionsep not cookie-safe',
      balancer('stickysession=S stickysessionsep=;'),
      'ProxySet',
      'stickysessionsep',
      3,
      /sticky\.separator must be one printable character/,
    ],
    ['failonstatus not a status', balancer('failonstatus=500,abc'), 'ProxySet', 'failonstatus', 3, /"abc" is not an HTTP status/],
    ['failonstatus out of range', balancer('failonstatus=600'), 'ProxySet', 'failonstatus', 3, /not an HTTP status/],
    ['failontimeout not On or Off', balancer('failontimeout=1'), 'ProxySet', 'failontimeout', 3, /On or Off/],
    ['forcerecovery not On or Off', balancer('forcerecovery=true'), 'ProxySet', 'forcerecovery', 3, /On or Off/],
    ['nonce', balancer('nonce=None'), 'ProxySet', 'nonce', 3, /nonce/],
    ['growth', balancer('growth=5'), 'ProxySet', 'growth', 3, /pool\.add/],
    ['a member parameter on the balancer', balancer('retry=5'), 'ProxySet', 'retry', 3, /member parameter/],
    ['an unknown balancer parameter', balancer('sticky=S'), 'ProxySet', 'sticky', 3, /not an httpd balancer parameter/],
    ['a ProxySet word without =', balancer('balancer://c'), 'ProxySet', 'balancer://c', 3, /not a key=value/],
  ])('%s', (_what, text, directive, parameter, line, reason) => {
    const result = fromApacheConfig(text);
    expect(reported(result)).toEqual([parameter === undefined ? { directive, line } : { directive, parameter, line }]);
    expect(result.unsupported[0]!.reason).toMatch(reason);
    for (const { options } of result.balancers) expect(() => normalizeOptions(options)).not.toThrow();
  });

  it.each([
    ['<Proxy> for a plain URL', '<Proxy "http://backend">\n  ProxySet keepalive=On\n</Proxy>', '<Proxy>', 1, /not a balancer:\/\//],
    ['<Proxy *>', '<Proxy *>\n  Require all denied\n</Proxy>', '<Proxy>', 1, /not a balancer:\/\//],
    ['<Proxy> without a balancer name', '<Proxy balancer://>\n</Proxy>', '<Proxy>', 1, /no balancer name/],
    ['<ProxyMatch>', '<ProxyMatch "^balancer://">\n</ProxyMatch>', '<ProxyMatch>', 1, /regular expression/],
    [
      'a section inside <Proxy balancer://>',
      '<Proxy balancer://c>\n  <RequireAny>\n    Require ip 10.0.0.0/8\n  </RequireAny>\n</Proxy>',
      '<RequireAny>',
      2,
      /inside <Proxy balancer:\/\/c>/,
    ],
    ['a directive inside <Proxy balancer://>', '<Proxy balancer://c>\n  Require all granted\n</Proxy>', 'Require', 2, /inside <Proxy balancer:\/\/c>/],
    ['ProxyPreserveHost not On or Off inside <Proxy>', '<Proxy balancer://c>\n  ProxyPreserveHost yes\n</Proxy>', 'ProxyPreserveHost', 2, /On or Off/],
    [
      'a negated <IfModule>',
      '<IfModule !mod_proxy.c>\n  ProxyPass / balancer://c/\n</IfModule>',
      'ProxyPass',
      2,
      /<IfModule !mod_proxy\.c>.*does not evaluate/,
    ],
    [
      'a proxy directive inside <IfDefine>',
      '<IfDefine CLUSTER>\n  BalancerMember balancer://c http://192.0.2.2:80\n</IfDefine>',
      'BalancerMember',
      2,
      /<IfDefine CLUSTER>/,
    ],
    ['a <Proxy> section inside <IfVersion>', '<IfVersion >= 2.4>\n  <Proxy balancer://c>\n  </Proxy>\n</IfVersion>', '<Proxy>', 2, /<IfVersion >= 2\.4>/],
    ['ProxyPass inside <LocationMatch>', '<LocationMatch "^/a">\n  ProxyPass balancer://c/\n</LocationMatch>', 'ProxyPass', 2, /<LocationMatch/],
    ['ProxyPass inside <Location ~>', '<Location ~ "^/a">\n  ProxyPass balancer://c/\n</Location>', 'ProxyPass', 2, /<Location ~/],
    ['ProxyPassMatch', 'ProxyPassMatch "^/(.*)$" balancer://c/$1', 'ProxyPassMatch', 1, /regular expression/],
    ['ProxyHCExpr', 'ProxyHCExpr ok {%{REQUEST_STATUS} =~ /^2/}', 'ProxyHCExpr', 1, /not imported/],
    ['ProxyRequests On', 'ProxyRequests On', 'ProxyRequests', 1, /forward proxying/],
    [
      'SetHandler balancer-manager',
      '<Location "/balancer-manager">\n  SetHandler balancer-manager\n  Require host example.com\n</Location>',
      'SetHandler',
      2,
      /balancer-manager page/,
    ],
    ['another Proxy* directive', 'ProxyVia On', 'ProxyVia', 1, /no equivalent/],
    ['a Balancer* directive', 'BalancerGrowth 5', 'BalancerGrowth', 1, /no equivalent/],
    ['RewriteRule to a balancer', 'RewriteRule ^/(.*)$ balancer://c/$1 [P]', 'RewriteRule', 1, /no equivalent/],
    ['RequestHeader with a BALANCER_ variable', 'RequestHeader set X-Route %{BALANCER_WORKER_ROUTE}e', 'RequestHeader', 1, /no equivalent/],
    ['BalancerMember inside <Location>', '<Location /a>\n  BalancerMember http://192.0.2.2:80\n</Location>', 'BalancerMember', 2, /inside <Location>/],
    ['BalancerMember outside a section without a balancer URL', 'BalancerMember http://192.0.2.2:80', 'BalancerMember', 1, /must start with the balancer URL/],
    ['BalancerMember naming balancer:// without a name', 'BalancerMember balancer:// http://192.0.2.2:80', 'BalancerMember', 1, /no balancer name/],
    ['BalancerMember without a member URL', 'BalancerMember balancer://c route=a', 'BalancerMember', 1, /needs a member URL/],
    [
      'BalancerMember naming the balancer inside <Proxy>',
      '<Proxy balancer://c>\n  BalancerMember balancer://c http://192.0.2.2:80\n</Proxy>',
      'BalancerMember',
      2,
      /must not name the balancer/,
    ],
    ['an ajp:// member', 'BalancerMember balancer://c ajp://192.0.2.2:8009', 'BalancerMember', 1, /ajp: scheme/],
    ['an fcgi:// member', 'BalancerMember balancer://c fcgi://127.0.0.1:9000', 'BalancerMember', 1, /fcgi: scheme/],
    ['a unix: member', 'BalancerMember balancer://c unix:/run/app.sock|http://localhost/', 'BalancerMember', 1, /unix: scheme/],
    ['a member that is not a URL', 'BalancerMember balancer://c backend', 'BalancerMember', 1, /"backend" is not a URL/],
    ['a member URL that does not parse', 'BalancerMember balancer://c http://[bad', 'BalancerMember', 1, /not a valid URL/],
    ['a member URL with a fragment', 'BalancerMember balancer://c http://192.0.2.2:80/#top', 'BalancerMember', 1, /^url must not contain a query or fragment/],
    ['a member URL with credentials', 'BalancerMember balancer://c http://u:p@192.0.2.2:80', 'BalancerMember', 1, /^url must not contain credentials/],
    [
      'a member URL with a query (its = makes it a parameter, as in httpd)',
      'BalancerMember balancer://c http://192.0.2.2:80/?a=1',
      'BalancerMember',
      1,
      /needs a member URL/,
    ],
    [
      'a <Proxy> section with an undefined ${NAME}',
      '<Proxy balancer://${NAME}>\n  BalancerMember http://192.0.2.2:80\n</Proxy>',
      '<Proxy>',
      1,
      /uses \$\{NAME\}/,
    ],
    ['ProxySet on a worker URL', 'ProxySet http://192.0.2.2:80 retry=5', 'ProxySet', 1, /standalone worker/],
    ['ProxySet before its balancer exists', 'ProxySet balancer://c lbmethod=bytraffic', 'ProxySet', 1, /before anything defines it/],
    ['ProxyPass ~', 'ProxyPass ~ "^/a" balancer://c/', 'ProxyPass', 1, /regular expression/],
    ['ProxyPass without a URL', 'ProxyPass /a', 'ProxyPass', 1, /needs a path and a URL/],
    ['ProxyPass with a path inside <Location>', '<Location /a>\n  ProxyPass /a balancer://c/\n</Location>', 'ProxyPass', 2, /takes no path/],
    ['ProxyPass exclusion', 'ProxyPass /static !', 'ProxyPass', 1, /exclusion/],
    ['ProxyPass to one server', 'ProxyPass /a http://192.0.2.2:80/', 'ProxyPass', 1, /one server/],
    ['ProxyPass with a path that is not a URL path', 'ProxyPass * balancer://c/', 'ProxyPass', 1, /not a URL path/],
    ['ProxyPass to balancer:// without a name', 'ProxyPass /a balancer://', 'ProxyPass', 1, /no balancer name/],
    ['ProxyHCTemplate without a name', 'ProxyHCTemplate', 'ProxyHCTemplate', 1, /needs a name/],
    ['ProxyPreserveHost not On or Off', 'ProxyPreserveHost maybe', 'ProxyPreserveHost', 1, /On or Off/],
    ['ProxyTimeout inside <Location>', '<Location /a>\n  ProxyTimeout 5\n</Location>', 'ProxyTimeout', 2, /not allowed inside <Location>/],
    ['ProxyTimeout malformed', 'ProxyTimeout 5s', 'ProxyTimeout', 1, /whole number of seconds/],
    ['Timeout zero', 'Timeout 0', 'Timeout', 1, /whole number of seconds/],
    [
      "Header not in the recipe's shape",
      'Header set Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED',
      'Header',
      1,
      /only the documented sticky-cookie recipe/,
    ],
    [
      'Header recipe without its env= condition',
      'Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/"',
      'Header',
      1,
      /only the documented sticky-cookie recipe/,
    ],
    ['Header with another BALANCER_ variable', 'Header add X-Member %{BALANCER_WORKER_NAME}e', 'Header', 1, /only the documented sticky-cookie recipe/],
    [
      'Header recipe for a cookie no balancer uses',
      'Header add Set-Cookie "OTHER=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED',
      'Header',
      1,
      /no balancer has stickysession=OTHER/,
    ],
  ])('%s', (_what, text, directive, line, reason) => {
    const result = fromApacheConfig(text);
    expect(reported(result)).toEqual([{ directive, line }]);
    expect(result.unsupported[0]!.reason).toMatch(reason);
  });

  it('reports the ProxyPass flags, mapping=, a path after the balancer name and a second mount', () => {
    const result = fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80
ProxyPass /a balancer://c/ nocanon
ProxyPass /b balancer://c/sub/ interpolate mapping=servlet
ProxyPass /c balancer://c/ NoQuery`);
    expect(only(result).mountPath).toBe('/a');
    expect(reported(result)).toEqual([
      { directive: 'ProxyPass', parameter: 'nocanon', line: 2 },
      { directive: 'ProxyPass', parameter: 'interpolate', line: 3 },
      { directive: 'ProxyPass', parameter: 'mapping', line: 3 },
      { directive: 'ProxyPass', line: 3 },
      { directive: 'ProxyPass', line: 3 },
      { directive: 'ProxyPass', parameter: 'NoQuery', line: 4 },
      { directive: 'ProxyPass', line: 4 },
    ]);
    expect(result.unsupported[3]!.reason).toMatch(/path \/sub\/ after the balancer name/);
    expect(result.unsupported[4]!.reason).toMatch(/already mounted at \/a \(line 2\)/);
  });

  it('reports a duplicate member and keeps the first', () => {
    const result = fromApacheConfig(`<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 route=a
  BalancerMember http://192.0.2.2 route=b
</Proxy>`);
    expect(only(result).options.members).toEqual([{ url: 'http://192.0.2.2:80', route: 'a' }]);
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', line: 3 }]);
    expect(result.unsupported[0]!.reason).toMatch(/duplicates the member on line 2/);
  });

  it('reports a route shared by two members (httpd allows it, proxy-balancer routes are unique)', () => {
    const result = fromApacheConfig(`<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 route=a
  BalancerMember http://192.0.2.3:80 route=a
</Proxy>`);
    expect(only(result).options.members).toEqual([{ url: 'http://192.0.2.2:80', route: 'a' }, { url: 'http://192.0.2.3:80' }]);
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', parameter: 'route', line: 3 }]);
    expect(result.unsupported[0]!.reason).toMatch(/duplicates another member's route/);
  });

  it('reports connectiontimeout when the members disagree', () => {
    const result = fromApacheConfig(`<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 connectiontimeout=1
  BalancerMember http://192.0.2.3:80 ConnectionTimeout=2
  BalancerMember http://192.0.2.4:80
</Proxy>`);
    expect(only(result).options.connectTimeoutMs).toBeUndefined();
    expect(reported(result)).toEqual([
      { directive: 'BalancerMember', parameter: 'connectiontimeout', line: 2 },
      { directive: 'BalancerMember', parameter: 'ConnectionTimeout', line: 3 },
    ]);
    expect(result.unsupported[0]!.reason).toMatch(/one connectTimeoutMs per balancer/);
  });

  it('expands a template with hcexpr and reports the expression at the member that uses it', () => {
    const result = fromApacheConfig(`ProxyHCTemplate t hcmethod=GET hcuri=/up hcexpr=ok
BalancerMember balancer://c http://192.0.2.2:80 hctemplate=t`);
    expect(only(result).options.healthCheck).toEqual({ method: 'GET', path: '/up', intervalMs: 30_000, passes: 1, fails: 1 });
    expect(reported(result)).toEqual([{ directive: 'BalancerMember', parameter: 'hctemplate', line: 2 }]);
  });

  it('a template replaces earlier hc parameters and later ones override it, in parameter order', () => {
    const { options } = only(
      fromApacheConfig(`ProxyHCTemplate t hcmethod=HEAD hcinterval=5
BalancerMember balancer://c http://192.0.2.2:80 hcinterval=60 hcuri=/x hctemplate=t hcfails=3`),
    );
    expect(options.healthCheck).toEqual({ method: 'HEAD', intervalMs: 5000, passes: 1, fails: 3 });
  });

  it('reports a ProxyHCTemplate with a bad parameter and does not define it', () => {
    const result = fromApacheConfig(`ProxyHCTemplate t hcmethod=GET route=a
BalancerMember balancer://c http://192.0.2.2:80 hctemplate=t`);
    expect(reported(result)).toEqual([
      { directive: 'ProxyHCTemplate', parameter: 'route', line: 1 },
      { directive: 'BalancerMember', parameter: 'hctemplate', line: 2 },
    ]);
    expect(only(result).options.healthCheck).toBeUndefined();
  });

  it('reports the Header recipe when its separator does not match, when repeated, and unknown cookie attributes', () => {
    const result = fromApacheConfig(`<Proxy balancer://a>
  BalancerMember http://192.0.2.2:80
  ProxySet stickysession=ROUTEID stickysessionsep=~
</Proxy>
<Proxy balancer://b>
  BalancerMember http://192.0.2.3:80
  ProxySet stickysession=SID
</Proxy>
Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED
Header always add Set-Cookie "SID=.%{BALANCER_WORKER_ROUTE}e; Path=/app; Domain=example.com; Max-Age=600; Secure; HttpOnly; SameSite=Lax; Expires=Wed, 21 Oct 2026 07:28:00 GMT" env=BALANCER_ROUTE_CHANGED
Header add Set-Cookie "SID=.%{BALANCER_WORKER_ROUTE}e" env=BALANCER_ROUTE_CHANGED`);
    const [a, b] = result.balancers;
    expect(a!.options.sticky).toEqual({ cookie: 'ROUTEID', urlParam: 'ROUTEID', separator: '~' });
    expect(b!.options.sticky).toEqual({
      cookie: 'SID',
      urlParam: 'SID',
      setCookie: { path: '/app', domain: 'example.com', maxAgeSec: 600, secure: true, httpOnly: true, sameSite: 'lax' },
    });
    expect(reported(result)).toEqual([
      { directive: 'Header', line: 9 },
      { directive: 'Header', parameter: 'Set-Cookie', line: 10 },
      { directive: 'Header', line: 11 },
    ]);
    expect(result.unsupported[0]!.reason).toMatch(/must be "~" then the route/);
    expect(result.unsupported[1]!.reason).toMatch(/attribute Expires=Wed/);
    expect(result.unsupported[2]!.reason).toMatch(/already set by the Header on line 10/);
  });

  it.each([
    ['Max-Age=0', /Max-Age=0 is not imported/],
    ['Max-Age=99999999', /Max-Age=99999999 is not imported/],
    ['Path=app', /Path=app is not imported/],
    ['SameSite=None', /SameSite=None is not imported: browsers reject it without Secure/],
    ['SameSite=Sometimes', /SameSite=Sometimes is not imported/],
    ['Domain=not_a_host', /Domain=not_a_host is not imported/],
    ['Path=/a\u0001b', /Path=\/a\u0001b is not imported/],
  ])('reports the cookie attribute %s and imports the rest', (attribute, reason) => {
    const result = fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80
ProxySet balancer://c stickysession=R
Header add Set-Cookie "R=.%{BALANCER_WORKER_ROUTE}e; ${attribute}; HttpOnly" env=BALANCER_ROUTE_CHANGED`);
    expect(only(result).options.sticky).toEqual({ cookie: 'R', urlParam: 'R', setCookie: { httpOnly: true } });
    expect(() => normalizeOptions(only(result).options)).not.toThrow();
    expect(reported(result)).toEqual([{ directive: 'Header', parameter: 'Set-Cookie', line: 3 }]);
    expect(result.unsupported[0]!.reason).toMatch(reason);
  });

  it('with stickysessionsep=Off the recipe has no separator before the route', () => {
    const { options } = only(
      fromApacheConfig(`BalancerMember balancer://c http://192.0.2.2:80
ProxySet balancer://c stickysession=R stickysessionsep=Off
Header add Set-Cookie "R=%{BALANCER_WORKER_ROUTE}e" env=BALANCER_ROUTE_CHANGED`),
    );
    expect(options.sticky).toEqual({ cookie: 'R', urlParam: 'R', separator: false, setCookie: {} });
  });

  it('maps ProxyPassReverse (on by default) and the cookie domain and path rewrites', () => {
    const result = fromApacheConfig(`<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80/base/
</Proxy>
ProxyPass /app balancer://c/
ProxyPassReverse /app balancer://c/
ProxyPassReverseCookieDomain backend.internal www.example.com
ProxyPassReverseCookiePath /base/ /app/`);
    expect(result.unsupported).toEqual([]);
    expect(result.balancers[0]!.options.reverse).toEqual({ cookieDomain: { 'backend.internal': 'www.example.com' }, cookiePath: { '/base/': '/app/' } });
    expect(() => createBalancer(result.balancers[0]!.options).close()).not.toThrow();
  });

  it('sorts reports by line', () => {
    const result = fromApacheConfig(`ProxyVia On
<Proxy balancer://c>
  BalancerMember http://192.0.2.2:80 connectiontimeout=1
  BalancerMember http://192.0.2.3:80 smax=1
  ProxySet nofailover=On
</Proxy>
ProxyPassReverseCookieDomain backend.internal www.example.com interpolate`);
    expect(result.unsupported.map((u) => u.line)).toEqual([1, 3, 4, 5, 7]);
  });
});
