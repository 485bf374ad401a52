/**
 * Header rules at the proxy boundary: hop-by-hop fields (RFC 9110 section 7.6.1) removed in both
 * directions, including any field named in `Connection`, and the forwarding fields added. Each
 * function builds a new header set; the member's response headers are never edited in place
 * (Node's agent reads `Keep-Alive` from them when it frees the socket).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** Fields that describe one connection, never forwarded (RFC 9110 7.6.1, plus `Proxy-Connection` and `Trailer`). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'http2-settings']);

/** Field names listed in a `Connection` header value, lower-cased. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  let tokens: Set<string> | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') (tokens ??= new Set()).add(name);
  }
  return tokens;
}

/** What {@link forwardedRequestHeaders} needs to know about the hop. */
export interface ForwardingInfo {
  /** Keep `Connection: upgrade` and `Upgrade` (WebSocket handshakes). */
  upgrade: boolean;
}

/**
 * The request headers to send to a member: hop-by-hop fields dropped, `Expect` dropped (this
 * server already answered `100 Continue`), `X-Forwarded-For` appended with the client address,
 * `X-Forwarded-Proto` and `X-Forwarded-Host` set from this hop (client-sent values are not trusted).
 * The Host header is left as the client sent it; the engine replaces it per member unless
 * `preserveHost` is on.
 */
export function forwardedRequestHeaders(req: IncomingMessage, info: ForwardingInfo): IncomingHttpHeaders {
  const incoming = req.headers;
  const named = connectionTokens(incoming.connection);
  const out: IncomingHttpHeaders = {};
  for (const key in incoming) {
    if (HOP_BY_HOP.has(key) || key === 'expect' || named?.has(key)) continue;
    out[key] = incoming[key];
  }
  if (info.upgrade && incoming.upgrade !== undefined) {
    out.connection = 'upgrade';
    out.upgrade = incoming.upgrade;
  }
  const clientAddress = req.socket.remoteAddress ?? '';
  const prior = incoming['x-forwarded-for'];
  out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${clientAddress}` : clientAddress;
  out['x-forwarded-proto'] = isEncrypted(req) ? 'https' : 'http';
  if (incoming.host !== undefined) out['x-forwarded-host'] = incoming.host;
  return out;
}

/**
 * The member's response head as a flat `[name, value, ...]` list for `res.writeHead`, hop-by-hop
 * fields dropped, original name case and repeated fields kept.
 */
export function forwardedResponseHeaders(raw: readonly string[], connection: string | string[] | undefined): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}
