/**
 * In-process agents for unit tests of the data plane: startAgent with every listener on a
 * free loopback port, a snapshot file written with the test snapshot builder, a silent
 * logger, and small upstream servers whose behaviour tests control.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { AgentConfig } from '../../agent/config.ts';
import { type RunningAgent, startAgent } from '../../agent/main.ts';
import type { DocumentInput } from '../../shared/schema/documents.ts';
import { snapshotText } from './snapshot-builder.ts';
import { waitFor } from './wait.ts';

/** An agent running in this process, with its snapshot file. */
export interface TestAgent {
  agent: RunningAgent;
  snapshot: string;
  dir: string;
  address(listener: 'outbound' | 'inbound' | 'status' | 'admin'): string;
  /** Writes a new snapshot version and waits until the agent uses it. */
  publish(docs: readonly DocumentInput[]): Promise<void>;
  stop(): Promise<void>;
}

let version = 0;

/** Starts an agent for `service` with `docs` in its snapshot (none: no snapshot file). */
export async function startTestAgent(docs: readonly DocumentInput[] | undefined, config: Partial<AgentConfig> = {}): Promise<TestAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'dyeline-agent-unit-'));
  const snapshot = join(dir, 'snapshot.json');
  if (docs !== undefined) await writeFile(snapshot, snapshotText(docs, ++version));
  const any = { host: '127.0.0.1', port: 0 };
  const agent = await startAgent(
    {
      service: 'web',
      color: 'stable',
      appPort: undefined,
      inbound: any,
      outbound: any,
      status: any,
      admin: any,
      snapshot,
      drainTimeoutMs: 5000,
      maxHops: 32,
      connectTimeoutMs: 1000,
      ...config,
    },
    pino({ level: 'silent' }),
  );
  return {
    agent,
    snapshot,
    dir,
    address: (l) => {
      const a = agent.addresses.get(l);
      if (a === undefined) throw new Error(`no ${l} listener`);
      return a;
    },
    async publish(next) {
      const v = ++version;
      await writeFile(snapshot, snapshotText(next, v));
      await waitFor(() => agent.ctx.table?.version === v, { timeoutMs: 10_000, what: `snapshot version ${v}` });
    },
    async stop() {
      await agent.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A loopback HTTP server answering with `handler`. */
export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An upstream that answers JSON describing the request it got (method, url, headers, body bytes). */
export function echo(name: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const body = JSON.stringify({ name, method: req.method, url: req.url, headers: req.headers, bytes });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(body);
    });
  };
}

/** The answer of one request through a listener. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one request with node:http to `address` (host:port); `path` may be absolute-form. */
export function send(address: string, opts: { method?: string; path?: string; headers?: Record<string, string | string[]>; body?: string | Buffer }): Promise<Answer> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address.slice(0, i), port: Number(address.slice(i + 1)), method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes raw bytes to `address` and resolves with everything read until the peer closes or `until` matches. */
export function raw(address: string, bytes: string | Buffer, until?: (text: string) => boolean, timeoutMs = 5000): Promise<string> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const s = connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    let text = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`raw exchange timed out; got ${JSON.stringify(text.slice(0, 500))}`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(t);
      s.destroy();
      resolve(text);
    };
    s.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (until?.(text)) done();
    });
    s.on('end', done);
    s.on('error', (err) => {
      clearTimeout(t);
      if (text.length > 0) resolve(text);
      else reject(err);
    });
    s.write(bytes);
  });
}
