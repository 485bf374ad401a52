/**
 * Upgrade requests (WebSocket and any other `Upgrade:` protocol): the handshake is forwarded to a
 * member and, after its 101, bytes are tunnelled both ways. Written on node:http rather than
 * http-proxy-3's ws pass because that pass destroys the client socket on any member error, which
 * would rule out trying the handshake on another member, and it accepts only `Upgrade: websocket`.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from '../config.js';
import { hostAndPort } from '../options/member-url.js';
import type { Duplex } from 'node:stream';
import type { Member } from '../pool/member.js';
import { forwardedResponseHead, invalidStatusLine } from './headers.js';
import { BalancerClosedError, ClientGoneError, ConnectTimeoutError, HeadersTimeoutError, InvalidResponseError, MemberClosedError } from '../errors.js';
import type { FailureKind, ForwardOutcome } from './outcome.js';
import { upstreamPath, type UpstreamRequest } from './target.js';

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
  /** Longest silence in an open tunnel (HAProxy's `timeout tunnel`); 0: none. */
  tunnelIdleMs: number;
}

/** How long a tunnel that one side ended may take to flush the other before both are destroyed. */
const TUNNEL_CLOSE_GRACE_MS = 5_000;

/**
 * Sends the handshake of `upstream` to `member`. The client socket is left untouched until the
 * member answers, so a failure before that can be retried elsewhere. `closing` aborts the attempt.
 */
export function forwardUpgrade(
  socket: Duplex,
  head: Buffer,
  member: Member,
  upstream: UpstreamRequest,
  responseHeaders: readonly string[] | undefined,
  timeouts: UpgradeTimeouts,
  tls: TlsOptions | undefined,
  closing: AbortSignal,
): Promise<UpgradeOutcome> {
  const start = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    let connected = false;
    let responseStarted = false;
    const secure = member.url.protocol === 'https:';
    const proxyReq = (secure ? https : http).request({
      ...(tls as https.RequestOptions | undefined),
      ...hostAndPort(member.url),
      method: upstream.method,
      path: upstreamPath(member, upstream.target),
      headers: upstream.headers,
      agent: false, // a tunnel owns its connection for life; it never returns to a pool
    });
    const finish = (outcome: Pick<UpgradeOutcome, 'failure' | 'status' | 'error' | 'bytesReceived' | 'tunnel'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('close', onClientGone);
      socket.removeListener('end', onClientGone);
      closing.removeEventListener('abort', onClosing);
      resolve({ ...outcome, responseStarted, bytesSent: 0, reusedSocket: false, setCookie: undefined, durationMs: Date.now() - start });
    };
    const fail = (failure: FailureKind, error: Error & { code?: string }): void => {
      proxyReq.destroy();
      if (failure === 'closed' || (responseStarted && failure !== 'client-abort')) socket.destroy();
      finish({ failure, status: 0, error, bytesReceived: 0, tunnel: undefined });
    };
    // A client that leaves before the answer (a FIN counts: server sockets are half-open) ends the attempt.
    const onClientGone = (): void => fail('client-abort', new ClientGoneError());
    const onClosing = (): void => fail('closed', new BalancerClosedError());
    socket.once('close', onClientGone);
    socket.once('end', onClientGone);
    closing.addEventListener('abort', onClosing);
    // One timer: first the connect deadline (or the head deadline if sooner), then, once
    // connected, re-armed for what is left of the head deadline.
    const onDeadline = (): void => {
      if (!connected) fail('connect', new ConnectTimeoutError(timeouts.connectMs));
      else fail('timeout', new HeadersTimeoutError(timeouts.headMs));
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

    // Connected means the member can be sent bytes: after the TLS handshake for https: (a failed
    // handshake is a connect failure, retried elsewhere).
    proxyReq.on('socket', (s) => {
      if (!s.connecting) onConnected();
      else s.once(secure ? 'secureConnect' : 'connect', onConnected);
    });
    proxyReq.on('error', (err: Error & { code?: string }) => fail(connected ? 'no-response' : 'connect', err));

    proxyReq.on('upgrade', (proxyRes, memberSocket, memberHead) => {
      if (settled) {
        memberSocket.destroy();
        return;
      }
      const tunnel = openTunnel(member, socket, head, proxyRes, memberSocket, memberHead, responseHeaders, timeouts.tunnelIdleMs);
      finish({ failure: undefined, status: 101, error: undefined, bytesReceived: 0, tunnel });
    });

    proxyReq.on('response', (proxyRes) => {
      // The member declined to switch protocols: relay its answer as a plain HTTP response, then close.
      const status = proxyRes.statusCode ?? 0;
      const invalid = invalidStatusLine(status, proxyRes.statusMessage);
      if (invalid !== undefined) {
        proxyRes.destroy();
        fail('bad-response', new InvalidResponseError(invalid));
        return;
      }
      const lines = [`HTTP/1.1 ${status} ${proxyRes.statusMessage ?? ''}`];
      const { fields } = forwardedResponseHead(proxyRes.rawHeaders);
      for (let i = 0; i < fields.length; i += 2) lines.push(`${fields[i]}: ${fields[i + 1]}`);
      lines.push('connection: close');
      socket.removeListener('end', onClientGone); // from here the client may half-close and still read
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      responseStarted = true;
      let bytes = 0;
      // Relayed with backpressure: a client that does not read must not make the process buffer the body.
      proxyRes.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (!socket.write(chunk)) {
          proxyRes.pause();
          socket.once('drain', () => proxyRes.resume());
        }
      });
      proxyRes.on('end', () => {
        socket.end();
        finish({ failure: undefined, status, error: undefined, bytesReceived: bytes, tunnel: undefined });
      });
      proxyRes.on('error', () => {});
      proxyRes.on('close', () => {
        if (!proxyRes.complete) {
          socket.destroy();
          finish({ failure: 'truncated', status, error: new MemberClosedError(), bytesReceived: bytes, tunnel: undefined });
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
  idleMs: number,
): Tunnel {
  let bytesSent = head.length;
  let bytesReceived = memberHead.length;
  const lines = [`HTTP/1.1 101 ${proxyRes.statusMessage || 'Switching Protocols'}`];
  const { fields } = forwardedResponseHead(proxyRes.rawHeaders, true);
  if (responseHeaders !== undefined) fields.push(...responseHeaders);
  for (let i = 0; i < fields.length; i += 2) lines.push(`${fields[i]}: ${fields[i + 1]}`);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (memberHead.length > 0) socket.write(memberHead);
  if (head.length > 0) memberSocket.write(head);

  let resolveClosed!: (counts: { bytesSent: number; bytesReceived: number }) => void;
  const closed = new Promise<{ bytesSent: number; bytesReceived: number }>((resolve) => (resolveClosed = resolve));
  let openSides = 2;
  let grace: NodeJS.Timeout | undefined;
  const destroy = (): void => {
    socket.destroy();
    memberSocket.destroy();
  };
  // When one side ends, the tunnel ends: both get what is pending and a FIN, then both are
  // destroyed (a peer that never closes its half cannot keep the tunnel, or the member's count, alive).
  const end = (): void => {
    if (grace !== undefined) return;
    grace = setTimeout(destroy, TUNNEL_CLOSE_GRACE_MS);
    grace.unref();
    for (const side of [socket, memberSocket]) {
      if (side.writableFinished || side.destroyed) side.destroy();
      else {
        side.once('finish', () => side.destroy());
        side.end();
      }
    }
  };
  socket.on('data', (chunk: Buffer) => (bytesSent += chunk.length));
  memberSocket.on('data', (chunk: Buffer) => (bytesReceived += chunk.length));
  for (const side of [socket, memberSocket]) {
    side.on('error', destroy);
    side.on('end', end);
    side.on('close', () => {
      end();
      if (--openSides === 0) {
        clearTimeout(grace);
        resolveClosed({ bytesSent, bytesReceived });
      }
    });
  }
  if (idleMs > 0) {
    // Any byte either way passes through the member socket, so its own timer sees the whole tunnel.
    (memberSocket as Socket).setTimeout(idleMs, destroy);
  }
  socket.pipe(memberSocket, { end: false });
  memberSocket.pipe(socket, { end: false });
  return { member, closed, end: destroy };
}
