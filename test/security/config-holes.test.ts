/**
 * Options that are not what they look like: sparse arrays, objects that are not plain objects,
 * revoked Proxies. Each is a BalancerConfigError naming the option, never a TypeError, an empty
 * pool or checks turned on with defaults.
 */
import { describe, expect, it } from 'vitest';
import { BalancerConfigError, createBalancer, type BalancerOptions } from '../../src/index.js';

const M = { url: 'http://127.0.0.1:1' };

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

function configError(options: unknown): BalancerConfigError {
  try {
    createBalancer(options as BalancerOptions);
  } catch (err) {
    expect(err).toBeInstanceOf(BalancerConfigError);
    return err as BalancerConfigError;
  }
  throw new Error('no error was thrown');
}

describe('config validation holes', () => {
  /* eslint-disable no-sparse-arrays -- sparse arrays are the attack */
  it.each([
    ['a hole in members', { members: [, M] }, 'members[0]'],
    ['new Array(3) as members', { members: new Array(3) }, 'members[0]'],
    ['a hole in failOnStatus', { members: [M], failOnStatus: [500, , 503] }, 'failOnStatus[1]'],
    ['a hole in healthCheck.expectStatus', { members: [M], healthCheck: { expectStatus: [200, , 204] } }, 'healthCheck.expectStatus[1]'],
    ['a Date as healthCheck', { members: [M], healthCheck: new Date() }, 'healthCheck'],
    ['a Map as retry', { members: [M], retry: new Map([['attempts', 2]]) }, 'retry'],
    ['a class instance as sticky', { members: [M], sticky: new (class Sticky {})() }, 'sticky'],
    ['a Date as a member', { members: [new Date()] }, 'members[0]'],
    ['a revoked Proxy as options', revoked(), 'options'],
    ['a revoked Proxy as members', { members: revoked() }, 'members'],
    ['a revoked Proxy as a member', { members: [revoked()] }, 'members[0]'],
    ['a revoked Proxy as retry', { members: [M], retry: revoked() }, 'retry'],
    ['a revoked Proxy as strategy', { members: [M], strategy: revoked() }, 'strategy'],
    ['a revoked Proxy as failOnStatus', { members: [M], failOnStatus: revoked() }, 'failOnStatus'],
    /* eslint-enable no-sparse-arrays */
  ])('%s', (_name, options, path) => {
    const err = configError(options);
    expect(err.path).toBe(path);
    expect(err.message.startsWith(`${path} `)).toBe(true);
  });

  it('names a revoked Proxy in the message', () => {
    expect(configError({ members: [M], retry: revoked() }).message).toBe('retry must be a plain value, got a revoked Proxy');
  });

  it('still takes objects without a prototype', () => {
    const retry = Object.assign(Object.create(null) as object, { attempts: 2 });
    expect(() => createBalancer({ members: [M], retry }).close()).not.toThrow();
  });
});
