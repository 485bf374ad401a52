/**
 * The `hash` strategy's key extraction: which string of a request is hashed (client address, URL,
 * path, a header, a cookie or a query parameter), as the validated `hash` option says.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { HashConfig } from '../../options/hash.js';
import { readCookie } from '../../sticky/cookie.js';

/** The request's hash key for `key`, or undefined when it has none (absent or empty). */
export function keyOf(key: HashConfig['key'], req: IncomingMessage | undefined, headers: IncomingHttpHeaders | undefined = req?.headers): string | undefined {
  if (req === undefined) return undefined;
  let value: string | undefined;
  switch (key.kind) {
    case 'client':
      value = clientAddress(req.socket?.remoteAddress);
      break;
    case 'url':
      value = req.url;
      break;
    case 'path': {
      const url = req.url;
      const q = url === undefined ? -1 : url.indexOf('?');
      value = q < 0 ? url : url?.slice(0, q);
      break;
    }
    case 'header': {
      const header = headers?.[key.name];
      value = Array.isArray(header) ? header.join(', ') : header;
      break;
    }
    case 'cookie':
      value = readCookie(headers?.cookie, key.name);
      break;
    case 'query':
      value = queryParam(req.url, key.name);
      break;
  }
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** The peer address, with IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as plain IPv4, so dual-stack listeners agree. */
function clientAddress(address: string | undefined): string | undefined {
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** A query parameter's decoded value (first occurrence). */
function queryParam(url: string | undefined, name: string): string | undefined {
  const q = url === undefined ? -1 : url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams((url as string).slice(q + 1)).get(name) ?? undefined;
}
