/** Free loopback ports for tests and benchmarks that must pass a port to another program. */
import { createServer } from 'node:net';

/** A free loopback TCP port (bound to 0 on 127.0.0.1, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
