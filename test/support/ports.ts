/** Free loopback ports for tests and benchmarks that must pass a port to another program. */
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

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

/** Whether `port` can be bound on 127.0.0.1 right now. */
async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first port of `count` consecutive free loopback ports (for programs that take a base port,
 * like the demo), so that test runs in parallel checkouts never collide on a fixed range.
 */
export async function freePortRange(count: number): Promise<number> {
  // Below the kernel's ephemeral range: a port taken by port 0 or as the source port of an
  // outgoing connection (any test running alongside) can never land inside the range afterwards.
  const ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32_768;
  const slots = Math.max(1, Math.floor((ephemeralLow - count - 10_000) / 100));
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * slots) * 100;
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free loopback ports found in 50 attempts`);
}

/** Resolves true when `host:port` accepts a TCP connection now, false when it refuses. */
export function accepts(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
