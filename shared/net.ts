/**
 * Small network helpers shared by the daemon and the agent.
 */
import type { AddressInfo, Server } from 'node:net';
import { UsageError } from './errors.ts';

/** A parsed `HOST:PORT` listener address. */
export interface HostPort {
  host: string;
  port: number;
}

/** Parses `HOST:PORT`, `[::1]:PORT` or `:PORT`; throws UsageError naming `flag`. */
export function parseHostPort(value: string, flag: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(`${flag}: expected HOST:PORT (e.g. 127.0.0.1:15000, port 0 for any), got "${value}"`);
  }
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** Parses a port number 1-65535; throws UsageError naming `flag`. */
export function parsePort(value: string, flag: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value.trim()) || port < 1 || port > 65535) {
    throw new UsageError(`${flag}: expected a port number 1-65535, got "${value}"`);
  }
  return port;
}

/** `host:port` of a bound server, with IPv6 hosts in brackets. */
export function boundAddress(server: Server | { address(): AddressInfo | string | null }): string {
  const a = server.address();
  if (a === null || typeof a === 'string') return String(a);
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Starts listening and resolves once bound (rejects on EADDRINUSE and the like). */
export function listen(server: Server, hp: HostPort): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(hp.port, hp.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
