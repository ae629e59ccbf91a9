/**
 * A real etcd server for tests: Debian's etcd-server (3.4) started on free loopback ports in a
 * temp data dir. The binary comes from `DYELINE_ETCD_BIN` (set by `npm test` through
 * scripts/ensure-etcd.sh); when unset, the script is run to find (or install) it.
 *
 *   const etcd = await EtcdServer.start();
 *   await etcd.put('/dyeline/rules/Lane/canary', yaml);
 *   await etcd.stop();    // SIGTERM, data kept
 *   await etcd.start();   // same dir, same ports
 *   await etcd.cleanup(); // kill and remove the data dir
 *
 *   const tls = tlsSet(dir);                                   // test/support/certs.ts
 *   const secure = await EtcdServer.start({ tls });            // https, client certificates required
 *   const cluster = await EtcdCluster.start(3); // three members on loopback, one raft group
 *   const leader = await cluster.leader();
 *   await leader.kill9();                       // a new leader is elected among the others
 */
import { execFileSync, type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import type { TlsSet } from './certs.ts';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

/** Re-exported for the etcd tests that need a port nothing listens on. */
export { freePort };

const ENSURE_SCRIPT = fileURLToPath(new URL('../../scripts/ensure-etcd.sh', import.meta.url));

let cachedBin: string | undefined;

/** Path of the etcd binary: `DYELINE_ETCD_BIN`, else what scripts/ensure-etcd.sh prints. */
export function etcdBinary(): string {
  if (process.env.DYELINE_ETCD_BIN) return process.env.DYELINE_ETCD_BIN;
  cachedBin ??= execFileSync('bash', [ENSURE_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return cachedBin;
}

/** Options of {@link EtcdServer.start}. */
export interface EtcdServerOptions {
  /** Milliseconds to wait for /health after each start. Default 20,000. */
  readyTimeoutMs?: number;
  /** More etcd flags, e.g. `['--auth-token-ttl', '2']`. */
  extraArgs?: string[];
  /** Serve clients over TLS with this set's server certificate and require client certificates of its CA. */
  tls?: TlsSet;
}

/** A member's place in a cluster: its name and the `--initial-cluster` list of every member. */
interface Membership {
  name: string;
  initialCluster: string;
}

/** One etcd member on loopback, with a client for the test's own puts/deletes/compactions. */
export class EtcdServer {
  /** `127.0.0.1:<client port>`, stable across stop/start/restart. */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  private proc: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private stderr = '';
  private client: Etcd3 | undefined;
  private readonly readyTimeoutMs: number;
  private readonly extraArgs: string[];
  /** The TLS files, when clients connect over TLS (with a client certificate); may be changed while stopped. */
  tls: TlsSet | undefined;
  /** Member name and initial cluster (a single-member cluster unless made by EtcdCluster). */
  readonly name: string;
  private initialCluster: string;

  /** @internal EtcdServer.start or EtcdCluster.start make members. */
  constructor(clientPort: number, peerPort: number, dataDir: string, opts: EtcdServerOptions, membership?: Membership) {
    this.clientPort = clientPort;
    this.peerPort = peerPort;
    this.dataDir = dataDir;
    this.endpoint = `127.0.0.1:${clientPort}`;
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 20_000;
    this.extraArgs = opts.extraArgs ?? [];
    this.tls = opts.tls;
    this.name = membership?.name ?? 'test';
    this.initialCluster = membership?.initialCluster ?? `test=http://127.0.0.1:${peerPort}`;
  }

  /** Creates a data dir, picks free ports and starts etcd (retrying with new ports if they were taken). */
  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'dyeline-etcd-'));
      const server = new EtcdServer(await freePort(), await freePort(), dataDir, opts);
      try {
        await server.start();
        return server;
      } catch (err) {
        lastErr = err;
        await server.cleanup();
      }
    }
    throw lastErr;
  }

  /** True while the etcd process runs. */
  get running(): boolean {
    return this.proc !== undefined;
  }

  /** Starts etcd on this server's dir and ports, and waits for /health. */
  async start(): Promise<void> {
    if (this.proc) throw new Error('etcd is already running');
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const client = `${this.tls ? 'https' : 'http'}://${this.endpoint}`;
    const tls = this.tls;
    const tlsArgs = tls ? ['--cert-file', tls.serverCertFile, '--key-file', tls.serverKeyFile, '--client-cert-auth', '--trusted-ca-file', tls.caFile] : [];
    this.stderr = '';
    const proc = spawn(
      etcdBinary(),
      [
        '--name', this.name,
        '--data-dir', this.dataDir,
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', this.initialCluster,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'warn',
        ...tlsArgs,
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => {
      this.stderr = (this.stderr + c).slice(-8000);
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.proc === proc) this.proc = undefined;
    });
    try {
      await waitFor(
        async () => {
          if (!this.proc) throw new Error(`etcd exited: ${this.stderr.slice(-2000)}`);
          const body = await this.health();
          return body.health === 'true';
        },
        { timeoutMs: this.readyTimeoutMs, intervalMs: 50, what: `etcd health on ${this.endpoint}` },
      );
    } catch (err) {
      await this.kill9();
      throw new Error(`${(err as Error).message}\netcd stderr: ${this.stderr.slice(-2000)}`);
    }
  }

  /** GET /health (with the client certificate over TLS). */
  private async health(): Promise<{ health?: string }> {
    if (!this.tls) {
      const res = await fetch(`http://${this.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok ? ((await res.json()) as { health?: string }) : {};
    }
    const t = this.tls;
    return new Promise((resolve, reject) => {
      const req = httpsGet(
        { host: '127.0.0.1', port: this.clientPort, path: '/health', ca: readFileSync(t.caFile), cert: readFileSync(t.clientCertFile), key: readFileSync(t.clientKeyFile), timeout: 1000 },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c));
          res.on('end', () => {
            try {
              resolve(res.statusCode === 200 ? (JSON.parse(text) as { health?: string }) : {});
            } catch (err) {
              reject(err as Error);
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('health check timed out')));
      req.on('error', reject);
    });
  }

  /** SIGTERM and wait for exit; the data dir is kept. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** SIGKILL and wait for exit; the data dir is kept. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGSTOP: etcd hangs with its connections open (a silent peer, as in a network partition). */
  freeze(): void {
    this.proc?.kill('SIGSTOP');
  }

  /** SIGCONT after freeze(). */
  thaw(): void {
    this.proc?.kill('SIGCONT');
  }

  /** stop() then start(): same dir, same ports. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    this.closeClient();
    const proc = this.proc;
    if (!proc) return;
    proc.kill('SIGCONT'); // a frozen etcd cannot handle SIGTERM
    proc.kill(sig);
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
    this.proc = undefined;
  }

  /** The test's own client (recreated after each start). */
  etcd(): Etcd3 {
    if (!this.proc) throw new Error('etcd is not running');
    const t = this.tls;
    this.client ??= new Etcd3({
      hosts: `${t ? 'https' : 'http'}://${this.endpoint}`,
      ...(t && { credentials: { rootCertificate: readFileSync(t.caFile), certChain: readFileSync(t.clientCertFile), privateKey: readFileSync(t.clientKeyFile) } }),
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 10_000 }),
    });
    return this.client;
  }

  /** Puts a key; resolves with the new store revision. */
  async put(key: string, value: string): Promise<bigint> {
    const res = await this.etcd().put(key).value(value).exec();
    return BigInt(res.header.revision);
  }

  /** Deletes a key (or every key under a prefix); resolves with the new store revision. */
  async delete(key: string, opts: { prefix?: boolean } = {}): Promise<bigint> {
    const builder = this.etcd().delete();
    const res = await (opts.prefix ? builder.prefix(key) : builder.key(key)).exec();
    return BigInt(res.header.revision);
  }

  /** The current store revision. */
  async revision(): Promise<bigint> {
    const res = await this.etcd().kv.range({ key: Buffer.from('\0'), limit: '1' });
    return BigInt(res.header.revision);
  }

  /** Compacts history up to `revision` (default: the current revision), physically. */
  async compact(revision?: bigint): Promise<bigint> {
    const rev = revision ?? (await this.revision());
    await this.etcd().kv.compact({ revision: rev.toString(), physical: true });
    return rev;
  }

  /** Every key/value under a prefix, as strings. */
  async getPrefix(prefix: string): Promise<Record<string, string>> {
    return this.etcd().getAll().prefix(prefix).strings();
  }

  private closeClient(): void {
    this.client?.close();
    this.client = undefined;
  }

  /** Kills etcd and removes the data dir. */
  async cleanup(): Promise<void> {
    await this.kill9();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** This member's raft id and the id of the leader it follows (maintenance Status). */
  async raftStatus(): Promise<{ memberId: string; leaderId: string }> {
    const st = await this.etcd().maintenance.status();
    return { memberId: st.header.member_id, leaderId: st.leader };
  }
}

/**
 * Several etcd members on loopback forming one raft group (ports and data dirs of their own).
 * Members start together: a new cluster is healthy only once a quorum has elected a leader.
 */
export class EtcdCluster {
  readonly members: EtcdServer[];

  private constructor(members: EtcdServer[]) {
    this.members = members;
  }

  /** Starts `size` members (default 3) and waits until each reports health (a leader exists). */
  static async start(size = 3, opts: EtcdServerOptions = {}): Promise<EtcdCluster> {
    const ports: [number, number][] = [];
    for (let i = 0; i < size; i++) ports.push([await freePort(), await freePort()]);
    const initialCluster = ports.map(([, peer], i) => `m${i}=http://127.0.0.1:${peer}`).join(',');
    const members = ports.map(
      ([client, peer], i) => new EtcdServer(client, peer, mkdtempSync(join(tmpdir(), `dyeline-etcd-m${i}-`)), opts, { name: `m${i}`, initialCluster }),
    );
    const cluster = new EtcdCluster(members);
    const started = await Promise.allSettled(members.map((m) => m.start()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) {
      await cluster.cleanup();
      throw (failed as PromiseRejectedResult).reason;
    }
    return cluster;
  }

  /** Client endpoints of every member, `host:port,host:port,...` (as an etcd:// URI lists them). */
  get endpoints(): string {
    return this.members.map((m) => m.endpoint).join(',');
  }

  /** The member that is leader now, as a running member sees it (polls through an election). */
  async leader(timeoutMs = 15_000): Promise<EtcdServer> {
    return waitFor(
      async () => {
        for (const m of this.members) {
          if (!m.running) continue;
          const { leaderId } = await m.raftStatus().catch(() => ({ leaderId: '0' }));
          if (leaderId === '0') continue;
          for (const candidate of this.members) {
            if (!candidate.running) continue;
            const st = await candidate.raftStatus().catch(() => undefined);
            if (st?.memberId === leaderId) return candidate;
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 50, what: 'an etcd leader' },
    );
  }

  /** Kills every member and removes their data dirs. */
  async cleanup(): Promise<void> {
    await Promise.allSettled(this.members.map((m) => m.cleanup()));
  }
}
