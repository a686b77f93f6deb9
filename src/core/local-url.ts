/**
 * The URL this host reaches its own daemon at, from `server.address`: a wildcard listen address
 * (0.0.0.0, ::) is reached over loopback. Undefined for port 0, which the kernel picks at start and
 * the config cannot know.
 */
export function localUrl(address: string, tls: boolean, pathname: string): string | undefined {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0) return undefined;
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const shown = reachable.includes(':') ? `[${reachable}]` : reachable;
  return `${tls ? 'https' : 'http'}://${shown}:${port}${pathname}`;
}
