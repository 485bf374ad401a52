/**
 * The command's log lines: one access-log line per finished request (from the `request` event)
 * and one line per member state change, each starting with an ISO 8601 UTC timestamp. Free text
 * from outside (request targets, reasons) is escaped, so no line can forge another.
 */
import type { Balancer } from './balancer.js';
import type { RequestEvent } from './events.js';

/**
 * One access-log line, close to Apache's combined format with the member added:
 * `2026-11-26T10:00:00.000Z 127.0.0.1 "GET /x" 200 5 route=pi2 attempts=1 12ms`, and
 * ` failure=<kind>` at the end when the last attempt failed. Fields: when the request ended, the
 * client's address, method and target (after the mount path), the status the client got (0: it
 * left first), response body bytes relayed to it, the member that answered last, attempts on
 * members, and the time from arrival to end. `-` stands for an unknown client or no member.
 */
export function accessLogLine(event: RequestEvent, endedAt: Date): string {
  const line = `${endedAt.toISOString()} ${event.client ?? '-'} "${event.method} ${escapeText(event.url)}" ${event.status} ${event.bytesReceived} route=${event.route ?? '-'} attempts=${event.attempts} ${event.durationMs}ms`;
  return event.failure === undefined ? line : `${line} failure=${event.failure}`;
}

/**
 * Writes a line (with its timestamp) for every member state change of `balancer`: error and
 * recovery, ejection, health checks' down and up, forced recovery, status and weight changes,
 * members added and removed.
 */
export function logStateChanges(balancer: Balancer, write: (line: string) => void): void {
  const log = (text: string): void => write(`${new Date().toISOString()} ${text}`);
  const member = (route: string, what: string, detail: string): void => log(`member ${route} ${what}: ${escapeText(detail)}`);
  balancer.on('memberError', (e) => member(e.route, 'in error', e.reason));
  balancer.on('memberRecovered', (e) => member(e.route, 'recovered', e.reason));
  balancer.on('memberEjected', (e) => member(e.route, `ejected for ${e.durationMs} ms`, e.reason));
  balancer.on('memberUnhealthy', (e) => member(e.route, 'down (health check)', e.reason));
  balancer.on('memberHealthy', (e) => member(e.route, 'up (health check)', e.reason));
  balancer.on('memberChanged', (e) => member(e.route, 'changed', e.reason));
  balancer.on('memberAdded', (e) => member(e.route, 'added', e.url));
  balancer.on('memberRemoved', (e) => member(e.route, 'removed', e.url));
  balancer.on('forcedRecovery', (e) => log(`every member was in error; all are tried again: ${e.routes.join(', ')}`));
}

/**
 * Backslash, double quote, controls and anything past ASCII escaped as `\xHH` (`\uHHHH` past
 * U+00FF), as Apache escapes its log. Node reads a request target as latin1, one char per byte,
 * so its escapes are the bytes on the wire.
 */
function escapeText(text: string): string {
  if (!/[^\x20\x21\x23-\x5b\x5d-\x7e]/.test(text)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e && code !== 0x22 && code !== 0x5c) out += text[i];
    else out += code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}
