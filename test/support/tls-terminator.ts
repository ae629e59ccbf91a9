/**
 * A TLS front for a plain test server (the test Nacos speaks HTTP only): accepts TLS on a free
 * loopback port with a certificate of a test CA and forwards the plain bytes to `target`.
 * `useCertificate` swaps the certificate for new connections (as a server's rotation would).
 *
 *   const front = await TlsTerminator.start(nacos.address, tlsSet(dir));
 *   // point the client at https://front.endpoint, verifying with the set's CA
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createServer, type Server } from 'node:tls';
import type { TlsSet } from './certs.ts';

export class TlsTerminator {
  readonly endpoint: string;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;

  private constructor(server: Server, endpoint: string, sockets: Set<Socket>) {
    this.#server = server;
    this.endpoint = endpoint;
    this.#sockets = sockets;
  }

  /** Listens on a free loopback port and forwards every connection to `target` (`host:port`). */
  static async start(target: string, set: TlsSet): Promise<TlsTerminator> {
    const i = target.lastIndexOf(':');
    const sockets = new Set<Socket>();
    const server = createServer({ cert: readFileSync(set.serverCertFile), key: readFileSync(set.serverKeyFile) }, (client) => {
      const upstream = connect(Number(target.slice(i + 1)), target.slice(0, i));
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new TlsTerminator(server, `127.0.0.1:${(server.address() as { port: number }).port}`, sockets);
  }

  /** New connections get this set's certificate; open ones are dropped. */
  useCertificate(set: TlsSet): void {
    this.#server.setSecureContext({ cert: readFileSync(set.serverCertFile), key: readFileSync(set.serverKeyFile) });
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
