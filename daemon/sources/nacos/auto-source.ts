/**
 * `transport=auto`: asks the servers which transport they speak (transport.ts) — retrying with
 * backoff, reported down with both reasons, while none answers — then runs the source of that
 * transport on the same sink for the rest of the process (docs/nacos-grpc.md#how-auto-decides).
 * With `tls=true` both probes speak TLS with the source's files (gRPC over TLS first, then https),
 * which the chosen source then shares. Registrations wait for the choice and then go through the
 * chosen source's writer.
 */
import { pino } from 'pino';
import type { Logger } from '../../../shared/log.ts';
import { NacosRegistrar, type NamingWriter } from '../../registration/nacos.ts';
import type { Registrar } from '../../registration/server.ts';
import { Connection } from '../connection.ts';
import { describeNacosError } from '../nacos-client.ts';
import type { NacosSourceConfig } from './config.ts';
import type { Source, SourceSink } from '../source.ts';
import type { NacosTlsFiles } from './tls.ts';
import { type NacosTransport, chooseTransport, grpcServers } from './transport.ts';

/** What the auto source needs besides its config. */
export interface NacosAutoSourceOptions {
  log?: Logger;
  /** Creates the source of the chosen transport. */
  create(transport: NacosTransport): Promise<Source & { namingWriter(): NamingWriter }>;
  /** `tls=true`: the source's TLS files, for the probes (the created source is given the same). */
  tls?: NacosTlsFiles;
  /** Budget of each probe (ms). Default 3000. */
  probeTimeoutMs?: number;
  /** Backoff between rounds of probes. Defaults 500 and 5000 ms. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** A Nacos source that picks its transport at start. */
export class NacosAutoSource implements Source {
  readonly kind = 'nacos';
  readonly uri: string;
  readonly #cfg: NacosSourceConfig;
  readonly #o: NacosAutoSourceOptions;
  readonly #log: Logger;
  #connection: Connection | undefined;
  #inner: (Source & { namingWriter(): NamingWriter }) | undefined;
  #chosen: NacosTransport | undefined;
  #stopped = false;

  constructor(cfg: NacosSourceConfig, o: NacosAutoSourceOptions) {
    this.#cfg = cfg;
    this.uri = cfg.uri;
    this.#o = o;
    this.#log = o.log ?? pino({ level: 'silent' });
  }

  /** The transport chosen, once chosen. */
  get transport(): NacosTransport | undefined {
    return this.#chosen;
  }

  /** Registered instances go to this Nacos over the transport chosen, once chosen. */
  readonly registration = {
    rank: 2,
    registrar: (log: Logger): Registrar => new NacosRegistrar({ target: this.uri, log, writer: this.#deferredWriter() }),
  };

  /** A writer whose calls fail (and are retried by the registrar) until the transport is chosen. */
  #deferredWriter(): NamingWriter {
    let writer: NamingWriter | undefined;
    const ready = (): NamingWriter => {
      if (writer) return writer;
      if (!this.#inner) throw new Error('Nacos transport not chosen yet (no server answered)');
      return (writer = this.#inner.namingWriter());
    };
    return {
      register: async (i) => ready().register(i),
      beat: async (i) => ready().beat(i),
      deregister: async (i) => ready().deregister(i),
      close: () => writer?.close(),
    };
  }

  async start(sink: SourceSink): Promise<void> {
    if (this.#connection) throw new Error('NacosAutoSource already started');
    const connection = (this.#connection = new Connection({
      name: 'nacos',
      sink,
      log: this.#log,
      backoff: { initialMs: this.#o.retryMinMs ?? 500, maxMs: this.#o.retryMaxMs ?? 5000 },
    }));
    const secrets = [this.#cfg.password, this.#cfg.username];
    void connection.run(
      async () => {
        const tls = await this.#o.tls?.material();
        const grpc = grpcServers(this.#cfg.servers, this.#cfg.grpcPort);
        const transport = await chooseTransport(this.#cfg.servers, grpc, this.#o.probeTimeoutMs ?? 3000, tls);
        const inner = await this.#o.create(transport);
        if (this.#stopped) return undefined;
        this.#chosen = transport;
        this.#inner = inner;
        this.#log.info({ transport, tls: tls !== undefined }, `nacos transport: ${transport === 'grpc' ? 'gRPC' : 'HTTP v1'}${tls ? ' over TLS' : ''}`);
        // From here on the chosen source reports; this loop ends.
        connection.stop();
        await inner.start(sink);
        return undefined;
      },
      (err) => describeNacosError(err, secrets),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#connection?.stop();
    await this.#inner?.stop();
    this.#o.tls?.close();
  }
}
