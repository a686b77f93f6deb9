import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** Who sent a request, as the logs show it. */
export interface ClientAddress {
  /** The client: the connecting address, or with `trustProxy` the first X-Forwarded-For entry. */
  remote: string | undefined;
  /** The address that connected (the proxy, behind one). */
  peer: string | undefined;
}

/**
 * The client address of a request. Only with `trustProxy` is X-Forwarded-For read, and its first
 * entry taken: the client as the first proxy saw it. A proxy appends to what the client sent, so a
 * client can forge that entry; it is therefore used for logs only, never to decide access, and the
 * connecting address stays in `peer`. An entry that is not an IP address is ignored.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): ClientAddress {
  const peer = req.socket?.remoteAddress;
  if (!trustProxy) return { remote: peer, peer };
  const header = req.headers['x-forwarded-for'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
  return { remote: first !== undefined && isIP(first) !== 0 ? first : peer, peer };
}

/** True when the connection presented a client certificate that the server's client CA verified. */
export function hasVerifiedClientCertificate(req: IncomingMessage): boolean {
  const socket = req.socket as Partial<TLSSocket> | undefined;
  return socket?.encrypted === true && socket.authorized === true;
}
