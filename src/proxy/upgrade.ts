/**
 * Upgrade requests (WebSocket and any other `Upgrade:` protocol): the handshake is forwarded to a
 * member and, after its 101, bytes are tunnelled both ways. Written on node:http rather than
 * http-proxy-3's ws pass because that pass destroys the client socket on any member error, which
 * would rule out trying the handshake on another member, and it accepts only `Upgrade: websocket`.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { Member } from '../pool/member.js';
import type { FailureKind, ForwardOutcome } from './engine.js';
import { forwardedResponseHead } from './headers.js';

/**
 * How a handshake attempt ended, in the same terms as a plain request's outcome (status 101, the
 * member's other status relayed to the client, or 0); `tunnel` is set when the member switched protocols.
 */
export interface UpgradeOutcome extends ForwardOutcome {
  /** Open after a 101; resolves with its byte counts when either side closes. */
  readonly tunnel: Tunnel | undefined;
}

/** An open tunnel between a client and a member. */
export interface Tunnel {
  readonly member: Member;
  /** Resolves when the tunnel is closed, with bytes client→member and member→client. */
  readonly closed: Promise<{ bytesSent: number; bytesReceived: number }>;
  /** Closes both sides. */
  end(): void;
}

export interface UpgradeTimeouts {
  connectMs: number;
  headMs: number;
}

/** Path on the member: its URL path prefix joined with the request's path and query. */
export function memberPath(member: Member, requestUrl: string): string {
  const target = new URL(requestUrl, 'http://placeholder'); // absolute-form URIs keep only path and query
  const prefix = member.url.pathname.endsWith('/') ? member.url.pathname.slice(0, -1) : member.url.pathname;
  return `${prefix}${target.pathname}${target.search}`;
}

/**
 * Sends the handshake of `req` to `member`. The client socket is left untouched until the member
 * answers, so a failure before that can be retried elsewhere.
 */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  member: Member,
  headers: http.OutgoingHttpHeaders,
  responseHeaders: readonly string[] | undefined,
  timeouts: UpgradeTimeouts,
): Promise<UpgradeOutcome> {
  const start = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    const client = member.url.protocol === 'https:' ? https : http;
    const proxyReq = client.request({
      host: member.url.hostname.replace(/^\[|\]$/g, ''),
      port: member.url.port || (member.url.protocol === 'https:' ? 443 : 80),
      method: req.method,
      path: memberPath(member, req.url ?? '/'),
      headers,
      agent: false, // a tunnel owns its connection for life; it never returns to a pool
    });
    let responseStarted = false;
    const finish = (outcome: Pick<UpgradeOutcome, 'failure' | 'status' | 'error' | 'bytesReceived' | 'tunnel'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('close', onClientClose);
      resolve({ ...outcome, responseStarted, bytesSent: 0, reusedSocket: false, setCookie: undefined, durationMs: Date.now() - start });
    };
    const fail = (failure: FailureKind, error: Error & { code?: string }): void => {
      proxyReq.destroy();
      finish({ failure, status: 0, error, bytesReceived: 0, tunnel: undefined });
    };
    const onClientClose = (): void => fail('client-abort', Object.assign(new Error('client closed'), { code: 'ECONNRESET' }));
    socket.once('close', onClientClose);
    // One timer: first the connect deadline (or the head deadline if sooner), then, once
    // connected, re-armed for what is left of the head deadline.
    const onDeadline = (): void => {
      if (!connected) fail('connect', Object.assign(new Error(`no connection within ${timeouts.connectMs} ms`), { code: 'ECONNTIMEOUT' }));
      else fail('timeout', Object.assign(new Error(`no handshake answer within ${timeouts.headMs} ms`), { code: 'ETIMEDOUT' }));
    };
    let timer = setTimeout(onDeadline, Math.min(timeouts.connectMs, timeouts.headMs));
    timer.unref();
    const onConnected = (): void => {
      connected = true;
      if (settled) return;
      clearTimeout(timer);
      timer = setTimeout(onDeadline, Math.max(0, start + timeouts.headMs - Date.now()));
      timer.unref();
    };

    proxyReq.on('socket', (s) => {
      if (!s.connecting) onConnected();
      else s.once('connect', onConnected);
    });
    proxyReq.on('error', (err: Error & { code?: string }) => fail(connected ? 'no-response' : 'connect', err));

    proxyReq.on('upgrade', (proxyRes, memberSocket, memberHead) => {
      if (settled) {
        memberSocket.destroy();
        return;
      }
      const tunnel = openTunnel(member, socket, head, proxyRes, memberSocket, memberHead, responseHeaders);
      finish({ failure: undefined, status: 101, error: undefined, bytesReceived: 0, tunnel });
    });

    proxyReq.on('response', (proxyRes) => {
      // The member declined to switch protocols: relay its answer as a plain HTTP response, then close.
      const lines = [`HTTP/1.1 ${proxyRes.statusCode} ${proxyRes.statusMessage ?? ''}`];
      const { fields } = forwardedResponseHead(proxyRes.rawHeaders);
      for (let i = 0; i < fields.length; i += 2) lines.push(`${fields[i]}: ${fields[i + 1]}`);
      lines.push('connection: close');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      responseStarted = true;
      let bytes = 0;
      proxyRes.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        socket.write(chunk);
      });
      proxyRes.on('end', () => {
        socket.end();
        finish({ failure: undefined, status: proxyRes.statusCode ?? 0, error: undefined, bytesReceived: bytes, tunnel: undefined });
      });
      proxyRes.on('error', () => {});
      proxyRes.on('close', () => {
        if (!proxyRes.complete) {
          socket.destroy();
          finish({ failure: 'truncated', status: proxyRes.statusCode ?? 0, error: Object.assign(new Error('member closed mid-response'), { code: 'ECONNRESET' }), bytesReceived: bytes, tunnel: undefined });
        }
      });
    });
    proxyReq.end();
  });
}

function openTunnel(
  member: Member,
  socket: Duplex,
  head: Buffer,
  proxyRes: IncomingMessage,
  memberSocket: Duplex,
  memberHead: Buffer,
  responseHeaders: readonly string[] | undefined,
): Tunnel {
  let bytesSent = head.length;
  let bytesReceived = memberHead.length;
  const lines = [`HTTP/1.1 101 ${proxyRes.statusMessage || 'Switching Protocols'}`];
  const raw = proxyRes.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  if (responseHeaders !== undefined) for (let i = 0; i < responseHeaders.length; i += 2) lines.push(`${responseHeaders[i]}: ${responseHeaders[i + 1]}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (memberHead.length > 0) socket.write(memberHead);
  if (head.length > 0) memberSocket.write(head);

  let resolveClosed!: (counts: { bytesSent: number; bytesReceived: number }) => void;
  const closed = new Promise<{ bytesSent: number; bytesReceived: number }>((resolve) => (resolveClosed = resolve));
  let openSides = 2;
  const end = (): void => {
    socket.destroy();
    memberSocket.destroy();
  };
  socket.on('data', (chunk: Buffer) => (bytesSent += chunk.length));
  memberSocket.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
  // A failure on either side destroys both; a side that closes gets the other flushed and closed,
  // so no tunnel is left half dead and no socket leaks.
  const pair: [Duplex, Duplex][] = [[socket, memberSocket], [memberSocket, socket]];
  for (const [side, other] of pair) {
    side.on('error', end);
    side.on('close', () => {
      if (other.writableFinished) other.destroy();
      else if (!other.destroyed) {
        other.end();
        other.once('finish', () => other.destroy());
      }
      if (--openSides === 0) resolveClosed({ bytesSent, bytesReceived });
    });
  }
  socket.pipe(memberSocket);
  memberSocket.pipe(socket);
  return { member, closed, end };
}
