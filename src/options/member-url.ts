/**
 * Where a member URL points: the host and port a connection to it opens. One reading for every
 * place that connects to a member or names it by address (health probes, Upgrade tunnels, the
 * http-proxy-3 target, derived routes), so they cannot disagree on a default port or on IPv6 brackets.
 */

/** A member URL's host (an IPv6 address without its brackets) and port (the scheme's default, 443 or 80, when the URL has none). */
export function hostAndPort(url: URL): { host: string; port: number } {
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
  };
}
