/**
 * The `hash` option (the key of the `hash` strategy): its types and its validation. Part of the
 * options layer, so config.ts reads it without importing the strategy; it imports only validate.ts.
 */
import { BalancerConfigError, expectKnownKeys, expectPlainObject, isPlainObject, oneOf, tokenPattern } from '../validate.js';

/**
 * What a request is hashed on:
 * - `'client'`: the peer's IP address (an IPv4-mapped IPv6 address counts as IPv4). Behind another
 *   proxy every request has that proxy's address: hash a forwarding header instead.
 * - `'url'`: the request target, path and query. `'path'`: the path without the query.
 * - `{ header }`: a request header (case-insensitive name; repeated headers joined with `, `).
 * - `{ cookie }`: a cookie's value. `{ query }`: a query parameter's decoded value (first occurrence).
 */
export type HashKey =
  | 'client'
  | 'url'
  | 'path'
  | {
      /** Hash this request header's value (the name, case-insensitive). */
      header: string;
    }
  | {
      /** Hash this cookie's value. */
      cookie: string;
    }
  | {
      /** Hash this query parameter's value. */
      query: string;
    };

/** Options of the `hash` strategy (the balancer's `hash` option). */
export interface HashOptions {
  /** What to hash. Default `'client'` when the `hash` option is absent. */
  key: HashKey;
}

/** `hash` options after validation: the key kind and, for header, cookie and query keys, the name (headers lower-cased). */
export interface HashConfig {
  /** The key: its kind, and the header, cookie or parameter name for the named kinds. */
  key:
    | {
        /** Hash the client address, the whole URL, or its path. */
        kind: 'client' | 'url' | 'path';
      }
    | {
        /** Hash a header's, a cookie's or a query parameter's value. */
        kind: 'header' | 'cookie' | 'query';
        /** Its name (a header name lower-cased). */
        name: string;
      };
}

const KEY_KINDS = ['client', 'url', 'path'] as const;
const NAMED_KINDS = ['header', 'cookie', 'query'] as const;
const NAME_PATTERN = tokenPattern(256);
const QUERY_NAME_PATTERN = /^[^\x00-\x1f\x7f]{1,256}$/;

/**
 * Validates the `hash` option (at `path`, normally `'hash'`); undefined gives the default key `'client'`.
 * Throws {@link BalancerConfigError} naming the offending path and value.
 */
export function normalizeHashOptions(value: unknown, path: string): HashConfig {
  if (value === undefined) return { key: { kind: 'client' } };
  expectPlainObject(value, path);
  expectKnownKeys(value, ['key'], path);
  const key = value.key;
  const keyPath = `${path}.key`;
  if (typeof key === 'string') return { key: { kind: oneOf(key, KEY_KINDS, keyPath) } };
  const expectation = `must be one of 'client', 'url', 'path', { header: name }, { cookie: name } or { query: name }`;
  if (!isPlainObject(key, keyPath)) throw new BalancerConfigError(keyPath, key, expectation);
  const names = Object.keys(key);
  const kind = names[0];
  if (names.length !== 1 || kind === undefined || !(NAMED_KINDS as readonly string[]).includes(kind)) {
    throw new BalancerConfigError(keyPath, key, expectation);
  }
  const name = (key as Record<string, unknown>)[kind];
  const namePath = `${keyPath}.${kind}`;
  if (kind === 'query') {
    if (typeof name !== 'string' || !QUERY_NAME_PATTERN.test(name)) {
      throw new BalancerConfigError(namePath, name, 'must be a parameter name of 1 to 256 characters without control characters');
    }
    return { key: { kind, name } };
  }
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new BalancerConfigError(namePath, name, `must be a ${kind} name: 1 to 256 token characters (letters, digits, or !#$%&'*+-.^_\`|~)`);
  }
  return { key: { kind: kind as 'header' | 'cookie', name: kind === 'header' ? name.toLowerCase() : name } };
}

/** Whether `value` is an already validated {@link HashConfig} rather than public {@link HashOptions}. */
export function isHashConfig(value: HashOptions | HashConfig | undefined): value is HashConfig {
  return value !== undefined && typeof value.key === 'object' && value.key !== null && 'kind' in value.key;
}
