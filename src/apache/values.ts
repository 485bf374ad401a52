/**
 * Small readers of directive arguments, each as httpd reads the same text (atoi, atof,
 * `ap_timeout_parameter_parse`, On/Off flags), and the check that proxy-balancer's own validation
 * takes a value. Shared by the modules of the Apache import; they know no directive.
 */
import { BalancerConfigError, MAX_TIMER_MS } from '../validate.js';

/** A `balancer://` URL, in any case. */
export const BALANCER_PREFIX = /^balancer:\/\//i;

/** `balancer://MyCluster/x` gives `mycluster`: httpd lower-cases the name and drops the path. */
export function balancerName(url: string): string | undefined {
  const name = url.replace(BALANCER_PREFIX, '').replace(/\/.*$/, '').toLowerCase();
  return name === '' ? undefined : name;
}

/**
 * proxy-balancer's own complaint about a value, or undefined when its validator takes it. The
 * importer's output must be options createBalancer accepts, and httpd accepts values it refuses.
 */
export function refusal(validate: () => unknown): BalancerConfigError | undefined {
  try {
    validate();
    return undefined;
  } catch (error) {
    if (error instanceof BalancerConfigError) return error;
    throw error;
  }
}

/** A whole decimal number, optionally signed; anything else (httpd's atoi would read 0) is undefined. */
export function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^[+-]?\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/** C's atof: the longest leading decimal number, 0 when there is none. */
export function leadingNumber(value: string): number {
  const match = /^[ \t\n\v\f\r]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(value);
  return match === null ? 0 : Number(match[0].trim());
}

/**
 * A time as httpd's `ap_timeout_parameter_parse` reads it: digits, then nothing (the default unit)
 * or `ms`, `s`, `mi`/`min` or `h`. Returns milliseconds.
 */
export function duration(value: string, defaultUnit: 's' | 'ms'): number | undefined {
  const match = /^(\d{1,12})(ms|s|mi|min|h)?$/.exec(value);
  if (match === null) return undefined;
  const factor = { ms: 1, s: 1000, mi: 60_000, min: 60_000, h: 3_600_000 }[match[2] ?? defaultUnit]!;
  return Number(match[1]) * factor;
}

/**
 * `retry=` and `timeout=` of a member: httpd 2.4 reads them with atoi, as whole seconds, so
 * `retry=500ms` means 500 seconds there (later httpd reads units). A unit is therefore ambiguous
 * and reported; returns seconds, or the reason.
 */
export function plainSeconds(value: string, name: string, min: number): number | string {
  const seconds = integer(value);
  if (seconds !== undefined && seconds >= min && seconds * 1000 <= MAX_TIMER_MS) return seconds;
  if (seconds === undefined && duration(value, 's') !== undefined) {
    return `${name}=${value}: httpd 2.4 reads ${name} as whole seconds and ignores a unit (so ${value} means ${Number.parseInt(value, 10)} s there, while later httpd versions honour the unit); write a plain number of seconds`;
  }
  return `${name}=${value}: must be a whole number of seconds from ${min} to ${Math.floor(MAX_TIMER_MS / 1000)}`;
}

/** httpd's flag values: On or Off in any case; anything else is undefined. */
export function onOff(value: string | undefined): boolean | undefined {
  const lower = value?.toLowerCase();
  return lower === 'on' ? true : lower === 'off' ? false : undefined;
}

/** A value as a report shows it: JSON-quoted, or `(nothing)`. */
export function quote(value: string | undefined): string {
  return value === undefined ? '(nothing)' : JSON.stringify(value);
}
