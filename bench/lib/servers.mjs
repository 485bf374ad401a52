/**
 * The established front ends the balancer is compared with: Apache httpd 2.4 with
 * mod_proxy_balancer (byrequests), nginx (upstream round robin, keep-alive to the upstreams) and
 * HAProxy (roundrobin, http-reuse), each configured as the same two-member round-robin front end
 * on 127.0.0.1 only. The bench writes their config into its own temporary directory and runs them
 * in the foreground as its own child processes (never as system services, nothing written outside
 * that directory), with 2 worker processes for Apache and nginx and 2 threads for HAProxy.
 *
 * The config writers are pure functions (tested in test/bench-configs.test.ts); `startServer`
 * finds the binary, writes the config, starts the server and waits until it proxies.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';

/** How to install the servers and wrk on Debian or Ubuntu (printed when one is missing). */
export const INSTALL_HINT = 'apt-get update && apt-get install -y apache2 nginx haproxy wrk';

const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin', '/usr/local/bin', '/bin'];
const APACHE_MODULE_DIRS = ['/usr/lib/apache2/modules', '/usr/lib64/httpd/modules', '/usr/lib/httpd/modules', '/usr/local/apache2/modules'];
const APACHE_MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  // Without an authn and an authz module every request fails with AH00025 "couldn't check user".
  ['authn_core_module', 'mod_authn_core.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_http_module', 'mod_proxy_http.so'],
  ['proxy_balancer_module', 'mod_proxy_balancer.so'],
  ['slotmem_shm_module', 'mod_slotmem_shm.so'],
  ['lbmethod_byrequests_module', 'mod_lbmethod_byrequests.so'],
];

/** An executable named one of `names` on PATH or in the usual sbin directories, or undefined. */
export function findBinary(...names) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const name of names) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The first line of `binary args` (stdout or stderr: nginx -v writes to stderr, wrk -v exits 1), or undefined. */
export function versionLine(binary, args) {
  const result = spawnSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return text
    .split('\n')
    .find((l) => l.trim() !== '')
    ?.trim();
}

/** The user workers run as when the bench runs as root (servers refuse or should not serve as root). */
function workerUser() {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const passwd = readFileSync('/etc/passwd', 'utf8');
    for (const user of ['www-data', 'nobody']) {
      const line = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
      if (line === undefined) continue;
      const gid = line.split(':')[3];
      const group = readFileSync('/etc/group', 'utf8')
        .split('\n')
        .find((l) => l.split(':')[2] === gid)
        ?.split(':')[0];
      return { user, group: group ?? user };
    }
  } catch {
    // no passwd file: run as the current user
  }
  return undefined;
}

/**
 * Apache httpd 2.4 config: event MPM with 2 child processes, mod_proxy_balancer with byrequests over
 * `members` (`host:port` strings), keep-alive to clients without a request limit; mod_proxy keeps its
 * own pool of upstream connections per member.
 */
export function apacheConfig({ dir, port, members, modulesDir, user }) {
  return `# Apache httpd 2.4 as the bench's front end: mod_proxy_balancer, byrequests, 2 processes.
ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/httpd.pid"
DefaultRuntimeDir "${dir}"
ErrorLog "${dir}/error.log"
LogLevel warn
${APACHE_MODULES.map(([name, file]) => `LoadModule ${name} "${modulesDir}/${file}"`).join('\n')}
${user === undefined ? '' : `User ${user.user}\nGroup ${user.group}\n`}
# 2 worker processes (the machine's core count), enough threads for every client connection.
StartServers 2
ServerLimit 2
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 128
MinSpareThreads 1
MaxSpareThreads 128
MaxConnectionsPerChild 0

KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120
Timeout 60

<Proxy "balancer://bench">
${members.map((m) => `    BalancerMember "http://${m}"`).join('\n')}
    ProxySet lbmethod=byrequests
    Require all granted
</Proxy>
ProxyPass "/" "balancer://bench/"
`;
}

/** nginx config: 2 worker processes, upstream round robin with a keep-alive pool, HTTP/1.1 upstream. */
export function nginxConfig({ dir, port, members, user }) {
  return `# nginx as the bench's front end: upstream round robin, keep-alive to the upstreams, 2 workers.
daemon off;
master_process on;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${user === undefined ? '' : `user ${user.user} ${user.group};\n`}
events {
    worker_connections 1024;
}

http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000;

    upstream bench {
${members.map((m) => `        server ${m};`).join('\n')}
        keepalive 64;
        keepalive_requests 1000000;
        keepalive_timeout 120s;
    }

    server {
        listen 127.0.0.1:${port};
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
`;
}

/** HAProxy config: 2 threads, roundrobin, upstream connections shared across clients (http-reuse always). */
export function haproxyConfig({ port, members }) {
  return `# HAProxy as the bench's front end: roundrobin, http-reuse always, 2 threads.
global
    nbthread 2
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 120s

frontend bench
    bind 127.0.0.1:${port}
    default_backend members

backend members
    balance roundrobin
    http-reuse always
${members.map((m, i) => `    server b${i + 1} ${m}`).join('\n')}
`;
}

/** The lines worth printing of a config: no comments, no blank lines, no paths of the temp dir. */
export function keyLines(config, dir) {
  return config
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.includes(dir) && l !== '}' && !/^(global|defaults|events \{|http \{|server \{)$/.test(l));
}

/**
 * The servers the bench knows: where each is found, how its config is written and how it is run in
 * the foreground with that config.
 */
export const SERVERS = {
  apache: {
    label: 'Apache 2.4 mod_proxy_balancer (byrequests)',
    find() {
      const binary = findBinary('apache2', 'httpd');
      if (binary === undefined) return { missing: 'apache2 (or httpd) not found' };
      const modulesDir = APACHE_MODULE_DIRS.find((d) => APACHE_MODULES.every(([, file]) => existsSync(path.join(d, file))));
      const files = APACHE_MODULES.map(([, file]) => file).join(', ');
      if (modulesDir === undefined) return { missing: `Apache modules (${files}) not found in ${APACHE_MODULE_DIRS.join(', ')}` };
      return { binary, modulesDir, version: versionLine(binary, ['-v']) };
    },
    write({ dir, port, members, found }) {
      const file = path.join(dir, 'httpd.conf');
      const text = apacheConfig({ dir, port, members, modulesDir: found.modulesDir, user: workerUser() });
      writeFileSync(file, text);
      return { file, text, args: ['-d', dir, '-f', file, '-DFOREGROUND'] };
    },
  },
  nginx: {
    label: 'nginx (upstream round robin, keepalive)',
    find() {
      const binary = findBinary('nginx');
      if (binary === undefined) return { missing: 'nginx not found' };
      return { binary, version: versionLine(binary, ['-v']) };
    },
    write({ dir, port, members }) {
      const file = path.join(dir, 'nginx.conf');
      const text = nginxConfig({ dir, port, members, user: workerUser() });
      writeFileSync(file, text);
      // -e: the error log before the config is read, which would otherwise be /var/log/nginx/error.log
      return { file, text, args: ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log')] };
    },
  },
  haproxy: {
    label: 'HAProxy (roundrobin, http-reuse always)',
    find() {
      const binary = findBinary('haproxy');
      if (binary === undefined) return { missing: 'haproxy not found' };
      return { binary, version: versionLine(binary, ['-v']) };
    },
    write({ dir, port, members }) {
      const file = path.join(dir, 'haproxy.cfg');
      const text = haproxyConfig({ port, members });
      writeFileSync(file, text);
      // -db: stay in the foreground; -W is not used, so there is one process with 2 threads
      return { file, text, args: ['-db', '-f', file] };
    },
  },
};

/**
 * Starts server `name` on 127.0.0.1:`port` in front of `members` with its config in `dir`, and
 * waits (at most `timeoutMs`) until a request through it gets a 200. The server runs in a process
 * group of its own, so that stopping it reaches every worker even if its master is gone.
 * `track(child, { group: true })` is called at once. Returns `{ pid, config, stop() }`; throws with
 * the server's own output when it does not come up.
 */
export async function startServer(name, { dir, port, members, found, readyPath, timeoutMs = 15_000, track }) {
  const spec = SERVERS[name];
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const config = spec.write({ dir, port, members, found });
  const child = spawn(found.binary, config.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  track?.(child, { group: true });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));

  /** SIGTERM to the master (a fast stop for all three), then SIGKILL to the whole group after `graceMs`. */
  const stop = async (graceMs = 5_000) => {
    if (!gone) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child.pid), graceMs);
      await exited;
      clearTimeout(timer);
    }
    killGroup(child.pid); // workers left behind by a master that died
    child.stdout.destroy();
    child.stderr.destroy();
  };

  const deadline = Date.now() + timeoutMs;
  while (!(await answers(port, readyPath))) {
    if (gone || Date.now() > deadline) {
      await stop(1_000);
      const log = readTail(path.join(dir, 'error.log'));
      throw new Error(`${name} did not come up (${gone ? 'it exited' : `no 200 within ${timeoutMs} ms`}):\n${output}${log}`.trim());
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid, config, stop };
}

/** SIGKILL to every process of the group led by `pid`; nothing when the group is empty. */
export function killGroup(pid) {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // no such group: everything is gone
  }
}

function readTail(file) {
  try {
    return `\n${file}:\n${readFileSync(file, 'utf8').slice(-2000)}`;
  } catch {
    return '';
  }
}

/** Whether GET http://127.0.0.1:port/path answers 200 within a second (on a connection of its own). */
function answers(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
