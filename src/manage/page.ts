/**
 * The management page: one HTML document, one style sheet and one script, kept here as strings so
 * that the bundle carries them (no files to copy, no build step, no CDN). The HTML holds no data but
 * the title and the CSRF token; the script draws the table from the JSON API with DOM text nodes
 * only, so nothing a member reports can become markup. No inline script or style: the page runs
 * under a Content-Security-Policy of `script-src 'self'; style-src 'self'`.
 */

/** An asset the manager serves, by its name in `?asset=`. */
export interface PageAsset {
  readonly contentType: string;
  readonly body: string;
}

/** How often the page reloads the state, in ms. */
export const REFRESH_MS = 2000;

/** Escapes text for HTML content and double-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page. Its assets are addressed by a query (`?asset=manager.js`), which resolves against the
 * page's own path whether or not the browser's URL ends in `/`, so the page works wherever it is
 * mounted without knowing the mount path.
 */
export function managerPage(title: string, csrfToken: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="${escapeHtml(csrfToken)}">
<title>${t}</title>
<link rel="icon" href="?asset=icon.svg">
<link rel="stylesheet" href="?asset=manager.css">
<script src="?asset=manager.js" defer></script>
</head>
<body>
<header class="bar"><h1>${t}</h1><span id="updated" class="updated">loading…</span></header>
<main>
<p id="summary" class="summary"></p>
<div class="table-wrap">
<table id="members">
<thead><tr>
<th scope="col">Route</th><th scope="col">URL</th><th scope="col">State</th><th scope="col">Flags</th>
<th scope="col" class="num">Weight</th><th scope="col" class="num">Lbset</th><th scope="col" class="num">Requests</th>
<th scope="col" class="num">In flight</th><th scope="col" class="num">Bytes to / from</th><th scope="col">Health</th>
<th scope="col">Last error</th><th scope="col">Actions</th>
</tr></thead>
<tbody></tbody>
</table>
</div>
<p id="message" class="message" role="status" aria-live="polite"></p>
<noscript><p class="message error">This page needs JavaScript to show and change the members; the JSON API answers at api/state.</p></noscript>
</main>
<footer>
<span>Flags: D disabled, S stopped, N draining, H hot standby, R hot spare, E in error, C failing health checks.</span>
<span><a id="state-link" href="">JSON state</a> · <a id="metrics-link" href="">Prometheus metrics</a></span>
</footer>
</body>
</html>
`;
}

const MANAGER_CSS = `:root {
  --ink: #1d2430; --muted: #5d6878; --line: #d9dee6; --bg: #f5f7fa; --card: #fff; --accent: #2457c5;
  --ok: #17803d; --warn: #a15c00; --bad: #b3261e; --off: #6b7280;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg);
}
* { box-sizing: border-box; }
body { margin: 0; }
.bar { display: flex; align-items: baseline; justify-content: space-between; gap: 1rem; padding: .8rem 1.5rem; background: #1f2a3c; color: #fff; }
.bar h1 { margin: 0; font-size: 1.15rem; font-weight: 600; overflow-wrap: anywhere; }
.updated { color: #c4cddb; font-size: .85rem; white-space: nowrap; }
body.stale .updated { color: #ffb4ab; }
main { padding: 1rem 1.5rem; }
.summary { margin: 0 0 .8rem; color: var(--muted); }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .5rem .65rem; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
thead th { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #fafbfc; white-space: nowrap; }
tbody tr:last-child > * { border-bottom: 0; }
tbody tr:hover { background: #f8fafd; }
.num, .c-weight, .c-lbset, .c-requests, .c-inflight, .c-bytes { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.c-route { font-weight: 600; white-space: nowrap; }
.c-url { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; white-space: nowrap; }
.c-error { color: var(--bad); font-size: .85rem; overflow-wrap: anywhere; min-width: 14rem; max-width: 24rem; }
.c-error.none, .c-health.none { color: var(--muted); }
.c-health { font-size: .85rem; min-width: 9rem; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600; color: #fff; background: var(--off); }
.state-ok { background: var(--ok); }
.state-drain { background: var(--warn); }
.state-error, .state-unhealthy { background: var(--bad); }
.flag { display: inline-block; min-width: 1.4em; margin-right: .2em; padding: 0 .3em; border: 1px solid var(--line); border-radius: 4px; font: 600 .8rem ui-monospace, monospace; text-align: center; cursor: help; }
.flags-none { color: var(--muted); font-size: .85rem; }
.c-actions { white-space: nowrap; }
.c-actions button, .c-actions input { font: inherit; font-size: .85rem; }
button { padding: .2rem .6rem; margin: 0 .25rem .3rem 0; border: 1px solid #b9c2cf; border-radius: 6px; background: #fff; color: var(--ink); cursor: pointer; }
button:hover:not(:disabled) { border-color: var(--accent); color: var(--accent); }
button:disabled { opacity: .45; cursor: default; }
form.weight { display: flex; gap: .25rem; align-items: center; }
form.weight input { width: 4.5rem; padding: .15rem .3rem; border: 1px solid #b9c2cf; border-radius: 6px; }
.message { min-height: 1.4em; margin: .8rem 0 0; color: var(--muted); }
.message.error { color: var(--bad); }
footer { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .5rem 1.5rem; padding: 0 1.5rem 1.5rem; color: var(--muted); font-size: .8rem; }
a { color: var(--accent); }
`;

// The page's script. Plain ES2020 with no build step; it writes text with textContent and
// append(string) only, and sets no URL from the data it reads.
const MANAGER_JS = String.raw`(function () {
  'use strict';
  var REFRESH_MS = ${REFRESH_MS};
  var STATES = ['ok', 'drain', 'disabled', 'stopped', 'error', 'unhealthy'];
  var COLUMNS = ['route', 'url', 'state', 'flags', 'weight', 'lbset', 'requests', 'inflight', 'bytes', 'health', 'error', 'actions'];
  var ACTIONS = [['drain', 'Drain'], ['disable', 'Disable'], ['enable', 'Enable']];
  var FLAGS = [
    ['D', 'disabled: takes no traffic', function (m) { return m.admin === 'disabled'; }],
    ['S', 'stopped: takes no traffic, not retried', function (m) { return m.admin === 'stopped'; }],
    ['N', 'draining: no new sessions, keeps its sticky ones', function (m) { return m.admin === 'drain'; }],
    ['H', 'hot standby', function (m) { return m.role === 'standby'; }],
    ['R', 'hot spare', function (m) { return m.role === 'spare'; }],
    ['E', 'in error until its retry time', function (m) { return m.errorUntil !== null; }],
    ['C', 'failing its health checks', function (m, h) { return h !== undefined && !h.healthy; }]
  ];

  // The page is served at the mount's root; the API is below it, whether or not the URL ends in /.
  var base = location.pathname.slice(-1) === '/' ? location.pathname : location.pathname + '/';
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var token = tokenMeta === null ? '' : tokenMeta.getAttribute('content');
  var tbody = document.querySelector('#members tbody');
  var summary = document.getElementById('summary');
  var updated = document.getElementById('updated');
  var message = document.getElementById('message');
  document.getElementById('state-link').setAttribute('href', base + 'api/state');
  document.getElementById('metrics-link').setAttribute('href', base + 'metrics');

  var rows = new Map();
  var pending = null;
  var timer = 0;

  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }

  function time(ms) {
    var at = new Date(ms);
    return at.toDateString() === new Date().toDateString() ? at.toLocaleTimeString() : at.toLocaleString();
  }

  function makeRow(route) {
    var tr = document.createElement('tr');
    tr.setAttribute('data-route', route);
    var cells = {};
    COLUMNS.forEach(function (name) {
      var cell = document.createElement(name === 'route' ? 'th' : 'td');
      if (name === 'route') cell.setAttribute('scope', 'row');
      cell.className = 'c-' + name;
      tr.appendChild(cell);
      cells[name] = cell;
    });
    var buttons = {};
    ACTIONS.forEach(function (a) {
      var button = document.createElement('button');
      button.type = 'button';
      button.textContent = a[1];
      button.setAttribute('data-action', a[0]);
      button.setAttribute('data-route', route);
      cells.actions.appendChild(button);
      buttons[a[0]] = button;
    });
    var form = document.createElement('form');
    form.className = 'weight';
    form.setAttribute('data-route', route);
    var input = document.createElement('input');
    input.type = 'number';
    input.min = '1';
    input.max = '100';
    input.step = 'any';
    input.required = true;
    input.name = 'weight';
    input.setAttribute('aria-label', 'weight of ' + route);
    var submit = document.createElement('button');
    submit.type = 'submit';
    submit.textContent = 'Set weight';
    form.append(input, submit);
    cells.actions.appendChild(form);
    return { tr: tr, cells: cells, buttons: buttons, input: input, dirty: false };
  }

  function badge(text, className) {
    var span = document.createElement('span');
    span.className = className;
    span.textContent = text;
    return span;
  }

  function fill(row, m, h) {
    var c = row.cells;
    c.route.textContent = m.route;
    c.url.textContent = m.url;
    var state = STATES.indexOf(m.state) >= 0 ? m.state : 'unknown';
    c.state.replaceChildren(badge(m.state, 'badge state-' + state));
    var flags = FLAGS.filter(function (f) { return f[2](m, h); }).map(function (f) {
      var flag = badge(f[0], 'flag');
      flag.title = f[1];
      return flag;
    });
    if (flags.length === 0) flags = [badge('none', 'flags-none')];
    c.flags.replaceChildren.apply(c.flags, flags);
    c.weight.textContent = m.effectiveLbfactor < Math.trunc(m.weight * 100) ? m.weight + ' (ramping)' : String(m.weight);
    c.lbset.textContent = String(m.lbset);
    c.requests.textContent = String(m.requests);
    c.inflight.textContent = m.tunnels > 0 ? m.inFlight + ' (' + m.tunnels + ' tunnels)' : String(m.inFlight);
    c.bytes.textContent = bytes(m.bytesSent) + ' / ' + bytes(m.bytesReceived);
    if (h === undefined) {
      c.health.textContent = 'no check';
      c.health.className = 'c-health none';
      c.health.removeAttribute('title');
    } else {
      var probe = h.lastProbe === null ? 'not probed yet' : (h.lastProbe.ok ? 'pass' : 'fail ' + h.lastProbe.error) + ', ' + Math.round(h.lastProbe.latencyMs) + ' ms';
      c.health.textContent = (h.healthy ? 'healthy' : 'unhealthy') + ' · ' + probe;
      c.health.className = 'c-health';
      c.health.title = h.target + ' every ' + h.intervalMs + ' ms; ' + h.probes + ' probes';
    }
    if (m.lastError === null) {
      c.error.textContent = 'none';
      c.error.className = 'c-error none';
    } else {
      c.error.textContent = m.lastError.reason + ' (' + time(m.lastError.at) + ')';
      c.error.className = 'c-error';
    }
    row.buttons.drain.disabled = m.admin === 'drain';
    row.buttons.disable.disabled = m.admin === 'disabled';
    row.buttons.enable.disabled = m.admin === 'enabled' && m.errorUntil === null;
    // Leave the weight field alone while someone is typing in it.
    if (!row.dirty && document.activeElement !== row.input) row.input.value = String(m.weight);
  }

  function render(snap) {
    var health = new Map();
    snap.health.forEach(function (h) { health.set(h.route, h); });
    var seen = new Set();
    var up = 0;
    snap.members.forEach(function (m, i) {
      seen.add(m.route);
      var row = rows.get(m.route);
      if (row === undefined) {
        row = makeRow(m.route);
        rows.set(m.route, row);
      }
      if (tbody.children[i] !== row.tr) tbody.insertBefore(row.tr, tbody.children[i] || null);
      fill(row, m, health.get(m.route));
      if (m.state === 'ok' || m.state === 'drain') up++;
    });
    rows.forEach(function (row, route) {
      if (!seen.has(route)) {
        row.tr.remove();
        rows.delete(route);
      }
    });
    summary.textContent = 'Strategy ' + snap.strategy + ' · ' + snap.members.length + ' members, ' + up + ' usable · ' +
      snap.totals.requests + ' requests · ' + snap.inFlight.requests + ' in flight · ' + snap.retries.made + ' retries';
    updated.textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.classList.remove('stale');
  }

  function readJson(res) {
    return res.text().then(function (text) {
      var data = null;
      try { data = JSON.parse(text); } catch (e) { data = null; }
      var error = data !== null && typeof data.error === 'string' ? data.error : 'HTTP ' + res.status;
      return { ok: res.ok, data: data, error: error };
    });
  }

  function refresh() {
    if (pending !== null) return pending;
    clearTimeout(timer);
    pending = fetch(base + 'api/state', { credentials: 'same-origin', cache: 'no-store', headers: { accept: 'application/json' } })
      .then(readJson)
      .then(function (r) {
        if (!r.ok) throw new Error(r.error);
        render(r.data);
      })
      .catch(function (err) {
        document.body.classList.add('stale');
        updated.textContent = 'refresh failed: ' + err.message;
      })
      .then(function () {
        pending = null;
        timer = setTimeout(refresh, REFRESH_MS);
      });
    return pending;
  }

  function say(text, isError) {
    message.textContent = text;
    message.className = isError ? 'message error' : 'message';
  }

  function act(route, body, row) {
    var what = body.action === 'weight' ? 'weight ' + body.weight + ' for ' + route : body.action + ' ' + route;
    say(what + '…', false);
    return fetch(base + 'api/members/' + encodeURIComponent(route), {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'content-type': 'application/json', 'x-csrf-token': token, accept: 'application/json' },
      body: JSON.stringify(body)
    })
      .then(readJson)
      .then(function (r) {
        if (!r.ok) throw new Error(r.error);
        if (row !== undefined) row.dirty = false;
        say(what + ': done; ' + route + ' is now ' + r.data.state, false);
      })
      .catch(function (err) { say(what + ' failed: ' + err.message, true); })
      .then(function () { return (pending || Promise.resolve()).then(refresh); });
  }

  tbody.addEventListener('click', function (event) {
    var button = event.target.closest('button[data-action]');
    if (button === null) return;
    act(button.getAttribute('data-route'), { action: button.getAttribute('data-action') });
  });
  tbody.addEventListener('submit', function (event) {
    event.preventDefault();
    var route = event.target.getAttribute('data-route');
    var row = rows.get(route);
    if (row !== undefined) act(route, { action: 'weight', weight: Number(row.input.value) }, row);
  });
  tbody.addEventListener('input', function (event) {
    var form = event.target.closest('form.weight');
    var row = form === null ? undefined : rows.get(form.getAttribute('data-route'));
    if (row !== undefined) row.dirty = true;
  });

  refresh();
})();
`;

// One request splitting into three members (without it, browsers ask the site root for /favicon.ico).
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f2a3c"/><g stroke="#7fb2ff" stroke-width="2.5" fill="none" stroke-linecap="round"><path d="M6 16h7M13 16l7-8M13 16h7M13 16l7 8"/></g><g fill="#fff"><circle cx="23" cy="8" r="3"/><circle cx="23" cy="16" r="3"/><circle cx="23" cy="24" r="3"/></g></svg>
`;

/** The page's assets by name. */
export const PAGE_ASSETS: ReadonlyMap<string, PageAsset> = new Map([
  ['icon.svg', { contentType: 'image/svg+xml', body: ICON_SVG }],
  ['manager.js', { contentType: 'text/javascript; charset=utf-8', body: MANAGER_JS }],
  ['manager.css', { contentType: 'text/css; charset=utf-8', body: MANAGER_CSS }],
]);
