/**
 * A loopback TCP forwarder for tests that need to cut one client off a server while the server
 * stays up (e.g. a daemon off etcd, so the test can write and compact behind its back).
 *
 *   const proxy = await TcpProxy.start('127.0.0.1:2379');
 *   // point the client at proxy.endpoint
 *   proxy.cut();      // drop every connection, refuse new ones (accepted, then destroyed)
 *   proxy.restore();  // forward again
 *   await proxy.close();
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP forwarder from a free loopback port to `target` (`host:port`). */
export class TcpProxy {
  /** `127.0.0.1:<port>` the clients connect to. */
  readonly endpoint: string;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private isCut = false;

  private constructor(server: Server, endpoint: string) {
    this.server = server;
    this.endpoint = endpoint;
  }

  /** Listens on a free loopback port and forwards every connection to `target`. */
  static async start(target: string): Promise<TcpProxy> {
    const i = target.lastIndexOf(':');
    const host = target.slice(0, i);
    const port = Number(target.slice(i + 1));
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => {
      if (!proxy || proxy.isCut) {
        client.destroy();
        return;
      }
      const upstream = connect(port, host);
      const track = proxy.sockets;
      track.add(client);
      track.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        track.delete(client);
        track.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port: own } = server.address() as { port: number };
    proxy = new TcpProxy(server, `127.0.0.1:${own}`);
    return proxy;
  }

  /** Whether connections are currently refused. */
  get cutOff(): boolean {
    return this.isCut;
  }

  /** Destroys every open connection and refuses new ones until restore(). */
  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Forwards new connections again. */
  restore(): void {
    this.isCut = false;
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
