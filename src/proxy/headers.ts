/**
 * Header rules at the proxy boundary: hop-by-hop fields (RFC 9110 section 7.6.1) removed in both
 * directions, including any field named in `Connection` (requests: target.ts). Each function
 * builds a new header set; the member's response headers are never edited in place
 * (Node's agent reads `Keep-Alive` from them when it frees the socket).
 */

/** Fields that describe one connection, never forwarded (RFC 9110 7.6.1, plus `Proxy-Connection` and `Trailer`). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
  'trailer',
  'http2-settings',
]);

/** Field names listed in a `Connection` header value, lower-cased; undefined for the usual bare values. */
export function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
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

/** A member's response head, ready for `res.writeHead`, and its Set-Cookie values. */
export interface ForwardedResponseHead {
  /** Flat `[name, value, ...]`: hop-by-hop fields dropped, original name case and repeated fields kept. */
  fields: string[];
  /** The Set-Cookie values, for the sticky session table. */
  setCookie: string[] | undefined;
  /** Whether a field that carries a URL (Location, Content-Location, URI) is present. */
  urls: boolean;
}

/**
 * The member's response head from its raw header list, as strings (node:http) or latin1 Buffers
 * (undici). Reads the raw list rather than `headers`, which Node builds lazily and which then need
 * not be built at all; one pass, with fields named in `Connection` taken out afterwards (rare).
 * `switching`: the head of a 101, which keeps `Upgrade` and a bare `Connection: upgrade`.
 */
export function forwardedResponseHead(raw: readonly (string | Buffer)[], switching = false): ForwardedResponseHead {
  let named: Set<string> | undefined;
  const fields: string[] = [];
  let setCookie: string[] | undefined;
  let urls = false;
  for (let i = 0; i < raw.length; i += 2) {
    const rawName = raw[i]!;
    const rawValue = raw[i + 1]!;
    const name = typeof rawName === 'string' ? rawName : rawName.toString('latin1');
    const value = typeof rawValue === 'string' ? rawValue : rawValue.toString('latin1');
    const lower = name.toLowerCase();
    // Trailer is end-to-end (RFC 9110 6.6.2): it announces the trailers relayed after the body.
    if (HOP_BY_HOP.has(lower) && lower !== 'trailer') {
      if (lower === 'connection') {
        const tokens = connectionTokens(value);
        if (tokens !== undefined) for (const t of tokens) (named ??= new Set()).add(t);
      } else if (switching && lower === 'upgrade') {
        fields.push('Connection', 'upgrade', name, value);
      }
      continue;
    }
    if (lower === 'set-cookie') (setCookie ??= []).push(value);
    else if (lower === 'location' || lower === 'content-location' || lower === 'uri') urls = true;
    fields.push(name, value);
  }
  if (named !== undefined) return withoutNamed(fields, setCookie, urls, named, switching);
  return { fields, setCookie, urls };
}

/** The head without the fields a `Connection` header named (and their Set-Cookie values, if named). */
function withoutNamed(fields: string[], setCookie: string[] | undefined, urls: boolean, named: Set<string>, switching: boolean): ForwardedResponseHead {
  const kept: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const lower = fields[i]!.toLowerCase();
    // The 101's own Connection: upgrade was written here, not by the member.
    if (named.has(lower) && !(switching && (lower === 'upgrade' || lower === 'connection'))) continue;
    kept.push(fields[i]!, fields[i + 1]!);
  }
  return { fields: kept, setCookie: named.has('set-cookie') ? undefined : setCookie, urls };
}

/** Reason-phrase bytes RFC 9112 allows: HTAB, SP, VCHAR, obs-text. */
const INVALID_REASON_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Why a member's final status line cannot be relayed, or undefined when it can. Node's client
 * parser accepts 000, 099, 600-999 and control bytes in the reason phrase; `writeHead` throws on
 * some of them, inside a listener, which would end the process (RFC 9110 15: 100-599 only).
 */
export function invalidStatusLine(status: number, reason: string | undefined): string | undefined {
  if (!Number.isInteger(status) || status < 200 || status > 599) return `invalid status ${status}`;
  if (reason !== undefined && INVALID_REASON_CHAR.test(reason)) return 'a control byte in the reason phrase';
  return undefined;
}
