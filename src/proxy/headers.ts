/**
 * Header rules at the proxy boundary: hop-by-hop fields (RFC 9110 section 7.6.1) removed in both
 * directions, including any field named in `Connection`, and the forwarding fields added. Each
 * function builds a new header set; the member's response headers are never edited in place
 * (Node's agent reads `Keep-Alive` from them when it frees the socket).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

/** Fields that describe one connection, never forwarded (RFC 9110 7.6.1, plus `Proxy-Connection` and `Trailer`). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer', 'http2-settings']);

/** Field names listed in a `Connection` header value, lower-cased; undefined for the usual bare values. */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length <= 10) {
    const lower = value.toLowerCase(); // the common cases name no field: skip the split
    if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return undefined; // all hop-by-hop already
  }
  const text = Array.isArray(value) ? value.join(',') : value;
  let tokens: Set<string> | undefined;
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') (tokens ??= new Set()).add(name);
  }
  return tokens;
}

/**
 * The request headers to send to a member: hop-by-hop fields dropped, `Expect` dropped (this
 * server already answered `100 Continue`), `X-Forwarded-For` appended with the client address,
 * `X-Forwarded-Proto` and `X-Forwarded-Host` set from this hop (client-sent values are not trusted).
 * The Host header is left as the client sent it; the engine replaces it per member unless
 * `preserveHost` is on.
 */
/** `upgrade`: keep `Connection: upgrade` and `Upgrade` (WebSocket handshakes). */
export function forwardedRequestHeaders(req: IncomingMessage, upgrade: boolean): IncomingHttpHeaders {
  const incoming = req.headers;
  const named = connectionTokens(incoming.connection);
  const out: IncomingHttpHeaders = {};
  for (const key in incoming) {
    if (HOP_BY_HOP.has(key) || key === 'expect' || named?.has(key)) continue;
    out[key] = incoming[key];
  }
  if (upgrade && incoming.upgrade !== undefined) {
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

/** A member's response head, ready for `res.writeHead`, and its Set-Cookie values. */
export interface ForwardedResponseHead {
  /** Flat `[name, value, ...]`: hop-by-hop fields dropped, original name case and repeated fields kept. */
  fields: string[];
  /** The Set-Cookie values, for the sticky session table. */
  setCookie: string[] | undefined;
}

/**
 * The member's response head from its raw header list. Reads `rawHeaders` rather than
 * `headers`, which Node builds lazily and which then need not be built at all.
 */
export function forwardedResponseHead(raw: readonly string[]): ForwardedResponseHead {
  let named: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      const tokens = connectionTokens(raw[i + 1]);
      if (tokens !== undefined) for (const t of tokens) (named ??= new Set()).add(t);
    }
  }
  const fields: string[] = [];
  let setCookie: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    const value = raw[i + 1]!;
    if (lower === 'set-cookie') (setCookie ??= []).push(value);
    fields.push(name, value);
  }
  return { fields, setCookie };
}

function isEncrypted(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true;
}
