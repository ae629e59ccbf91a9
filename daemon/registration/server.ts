/**
 * The daemon's side of self-registration (docs/reference.md#registration): a Unix socket
 * beside the snapshot where the node's agents ask for their instance to be registered. Each
 * connection holds at most one instance; the registrar writes it to the registry (an etcd
 * lease, a Nacos ephemeral instance, or this node's snapshot) and keeps it there until the
 * agent deregisters or its connection closes. Stopping the daemon leaves registrations in the
 * registry (their lease or heartbeat runs out unless the next daemon takes them over, which it
 * does when the agents reconnect).
 */
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { type AgentMessage, type DaemonMessage, lineReader, type RegisteredInstance, type RegistrationState } from '../../shared/registration.ts';
import { checkAgentMessage } from '../../shared/schema/validators/generated.ts';

/** A registered instance as the registrars see it. */
export interface Registration {
  /** `<service>/<id>`: the registry key below the instances prefix. */
  key: string;
  id: string;
  instance: RegisteredInstance;
}

/** Where registered instances are written: implemented per registry. */
export interface Registrar {
  /** The registry, for the agents and /status: a source URI (no secrets) or `snapshot`. */
  readonly target: string;
  /** Adds (or replaces) an instance; `onState` hears how it stands until it is removed. */
  add(reg: Registration, onState: (state: RegistrationState, error?: string) => void): void;
  /** Removes an instance; resolves once the registry no longer has it, or the registrar gave up (it then expires by itself). */
  remove(key: string): Promise<void>;
  /** Stops keeping instances alive without removing them. */
  close(): Promise<void>;
}

/** What /status shows of one registration. */
export interface RegistrationStatus {
  key: string;
  address: string;
  port: number;
  state: RegistrationState;
  error?: string;
}

/** Options of {@link RegistrationServer}. */
export interface RegistrationServerOptions {
  socketPath: string;
  registrar: Registrar;
  log: Logger;
}

interface Held {
  reg: Registration;
  socket: Socket;
  state: RegistrationState;
  error?: string;
}

/** Serves the registration socket. */
export class RegistrationServer {
  readonly #o: RegistrationServerOptions;
  readonly #server: Server;
  /** Registrations by key, with the connection that owns each. */
  readonly #held = new Map<string, Held>();
  readonly #sockets = new Set<Socket>();
  #stopping = false;

  constructor(options: RegistrationServerOptions) {
    this.#o = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Listens (replacing a socket file a previous daemon left). */
  async start(): Promise<void> {
    const path = this.#o.socketPath;
    try {
      if ((await lstat(path)).isSocket()) await unlink(path);
    } catch {
      // absent
    }
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(path, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    // Agents run as their own user: any process that can reach this directory may register.
    await chmod(path, 0o666);
    this.#o.log.info({ socket: path, registry: this.#o.registrar.target }, 'registration socket listening');
  }

  /** Where registrations go (a source URI, or `snapshot`). */
  get registry(): string {
    return this.#o.registrar.target;
  }

  /** Registrations held, for /status. */
  status(): RegistrationStatus[] {
    return [...this.#held.values()].map((h) => ({
      key: h.reg.key,
      address: h.reg.instance.address,
      port: h.reg.instance.port,
      state: h.state,
      ...(h.error && { error: h.error }),
    }));
  }

  /** Stops serving; registrations stay in the registry (see the file comment). */
  async stop(): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
    await this.#o.registrar.close();
    this.#held.clear();
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    let owned: string | undefined;
    const send = (msg: DaemonMessage) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(msg)}\n`);
    };
    const release = async (): Promise<void> => {
      const key = owned;
      owned = undefined;
      if (key === undefined || this.#stopping || this.#held.get(key)?.socket !== socket) return;
      this.#held.delete(key);
      await this.#o.registrar.remove(key).catch((err: unknown) => this.#o.log.warn({ key, err: errorMessage(err) }, 'deregistration failed; the registry expires it'));
      this.#o.log.info({ key }, 'instance deregistered');
    };
    const onLine = (line: string) => {
      let msg: AgentMessage;
      try {
        const parsed = checkAgentMessage(JSON.parse(line));
        if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; '));
        msg = parsed.value;
      } catch (err) {
        this.#o.log.warn({ err: errorMessage(err) }, 'registration message refused');
        send({ op: 'error', message: `refused: ${errorMessage(err)}` });
        return;
      }
      if (msg.op === 'deregister') {
        void release().then(() => send({ op: 'deregistered' }));
        return;
      }
      const key = `${msg.instance.service}/${msg.id}`;
      if (owned !== undefined && owned !== key) void release();
      owned = key;
      const held: Held = { reg: { key, id: msg.id, instance: msg.instance }, socket, state: 'pending' };
      this.#held.set(key, held);
      this.#o.log.info({ key, address: msg.instance.address, port: msg.instance.port, labels: msg.instance.labels }, 'instance registration requested');
      this.#o.registrar.add(held.reg, (state, error) => {
        if (this.#held.get(key) !== held) return;
        held.state = state;
        held.error = error;
        send({ op: 'state', state, registry: this.#o.registrar.target, ...(error !== undefined && { error }) });
      });
    };
    socket.on('data', lineReader(onLine, () => socket.destroy()));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#sockets.delete(socket);
      void release();
    });
  }
}
