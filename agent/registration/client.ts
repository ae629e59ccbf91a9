/**
 * The agent's side of self-registration (docs/reference.md#registration): it keeps a connection
 * to the node daemon's registration socket and asks for its instance to be registered while the
 * app accepts connections on its port — not before the app is up, not after it went away — and
 * deregistered when it is asked to stop. A daemon that is down or restarting is reconnected to
 * with backoff, and the instance registered again. Nothing here ever stops the agent serving.
 */
import { connect, type Socket } from 'node:net';
import { errorMessage } from '../../shared/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { type DaemonMessage, lineReader, type RegisteredInstance, type RegistrationState } from '../../shared/registration.ts';
import { portAccepts } from '../admin/status.ts';

/** Where the agent's registration stands. */
export type AgentRegistrationState =
  /** No connection to the daemon (yet, or it is down). */
  | 'connecting'
  /** Connected; the app does not accept connections, so the instance is not registered. */
  | 'waiting-for-app'
  /** Asked for; the daemon has not written it to its registry yet. */
  | RegistrationState
  /** Stopped: deregistered (or given up). */
  | 'stopped';

/** Options of {@link AgentRegistration}. */
export interface AgentRegistrationOptions {
  /** The daemon's registration socket. */
  socketPath: string;
  /** The instance id (stable for the pod). */
  id: string;
  /** What is registered. */
  instance: RegisteredInstance;
  /** The app's port on 127.0.0.1: registered only while it accepts connections. */
  appPort: number;
  log: Logger;
  /** How often the app port is checked, ms (default 1000). */
  probeMs?: number;
  /** Consecutive failed checks that deregister a registered instance (default 2). */
  failuresToDeregister?: number;
  /** Reconnect backoff, ms (default 100 doubling to 2000). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** The app-port check (default: a TCP connect to 127.0.0.1). */
  probe?: (port: number) => Promise<boolean>;
}

/** Keeps one instance registered through the node's daemon. */
export class AgentRegistration {
  readonly #o: Required<Omit<AgentRegistrationOptions, 'probe'>> & { probe: (port: number) => Promise<boolean> };
  #socket: Socket | undefined;
  #connected = false;
  #sent: 'register' | 'deregister' | undefined;
  #appUp = false;
  #failures = 0;
  #state: AgentRegistrationState = 'connecting';
  #registry: string | undefined;
  #error: string | undefined;
  #stopping = false;
  #backoff: number;
  #probeTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #onDeregistered: ((confirmed: boolean) => void) | undefined;

  constructor(options: AgentRegistrationOptions) {
    this.#o = {
      probeMs: 1000,
      failuresToDeregister: 2,
      reconnectMinMs: 100,
      reconnectMaxMs: 2000,
      probe: (port) => portAccepts(port),
      ...options,
    };
    this.#backoff = this.#o.reconnectMinMs;
  }

  /** Connects and starts checking the app. */
  start(): void {
    this.#connect();
    void this.#probe();
  }

  /** The state, the registry the daemon writes to, and the last error the daemon reported. */
  status(): { state: AgentRegistrationState; registry?: string; error?: string; id: string } {
    return { state: this.#state, id: this.#o.id, ...(this.#registry && { registry: this.#registry }), ...(this.#error && { error: this.#error }) };
  }

  /**
   * Deregisters and stops. Resolves true once the daemon confirmed the instance is gone from
   * its registry, false when it could not tell within `timeoutMs` (no daemon: a registry lease
   * ends it by itself).
   */
  async stop(timeoutMs: number): Promise<boolean> {
    if (this.#stopping) return false;
    this.#stopping = true;
    clearTimeout(this.#probeTimer);
    clearTimeout(this.#reconnectTimer);
    let confirmed = false;
    if (this.#connected && this.#sent === 'register') {
      const done = new Promise<boolean>((resolve) => {
        this.#onDeregistered = resolve;
        setTimeout(() => resolve(false), timeoutMs).unref();
      });
      this.#send({ op: 'deregister' });
      confirmed = await done;
      this.#onDeregistered = undefined;
      if (confirmed) this.#o.log.info({ id: this.#o.id }, 'instance deregistered');
      else this.#o.log.warn({ id: this.#o.id, timeoutMs }, 'deregistration not confirmed in time');
    }
    this.#state = 'stopped';
    this.#socket?.destroy();
    return confirmed;
  }

  #connect(): void {
    if (this.#stopping) return;
    const socket = connect(this.#o.socketPath);
    this.#socket = socket;
    socket.setNoDelay(true);
    const read = lineReader(
      (line) => this.#receive(line),
      () => socket.destroy(),
    );
    socket.on('connect', () => {
      this.#connected = true;
      this.#backoff = this.#o.reconnectMinMs;
      this.#o.log.info({ socket: this.#o.socketPath }, 'connected to the node daemon for registration');
      this.#sent = undefined;
      this.#state = 'waiting-for-app';
      this.#sync();
    });
    socket.on('data', read);
    socket.on('error', (err) => {
      if (!this.#connected && this.#state === 'connecting' && this.#error !== errorMessage(err)) {
        this.#error = errorMessage(err);
        this.#o.log.warn({ socket: this.#o.socketPath, err: this.#error }, 'node daemon not reachable for registration; retrying');
      }
    });
    socket.on('close', () => {
      if (this.#socket !== socket) return;
      const was = this.#connected;
      this.#connected = false;
      this.#sent = undefined;
      this.#onDeregistered?.(false);
      if (this.#stopping) return;
      this.#state = 'connecting';
      if (was) this.#o.log.warn({ socket: this.#o.socketPath }, 'connection to the node daemon lost; reconnecting');
      this.#reconnectTimer = setTimeout(() => this.#connect(), this.#backoff);
      this.#reconnectTimer.unref();
      this.#backoff = Math.min(this.#backoff * 2, this.#o.reconnectMaxMs);
    });
  }

  #receive(line: string): void {
    let msg: DaemonMessage;
    try {
      msg = JSON.parse(line) as DaemonMessage;
    } catch {
      return;
    }
    if (msg.op === 'state' && this.#sent === 'register') {
      if (msg.state !== this.#state || msg.error !== this.#error) {
        const fields = { id: this.#o.id, registry: msg.registry, ...(msg.error && { err: msg.error }) };
        if (msg.state === 'registered') this.#o.log.info(fields, 'instance registered');
        else this.#o.log.warn(fields, 'instance not registered yet; the daemon keeps trying');
      }
      this.#state = msg.state;
      this.#registry = msg.registry;
      this.#error = msg.error;
    } else if (msg.op === 'deregistered') {
      if (this.#sent === 'deregister' && !this.#stopping) this.#state = 'waiting-for-app';
      this.#onDeregistered?.(true);
    } else if (msg.op === 'error') {
      this.#error = msg.message;
      this.#o.log.error({ err: msg.message }, 'the node daemon refused the registration');
    }
  }

  /** Sends what the app's state asks for, if it has not been sent on this connection. */
  #sync(): void {
    if (!this.#connected || this.#stopping) return;
    if (this.#appUp && this.#sent !== 'register') {
      this.#sent = 'register';
      this.#state = 'pending';
      this.#send({ op: 'register', id: this.#o.id, instance: this.#o.instance });
    } else if (!this.#appUp && this.#sent === 'register') {
      this.#sent = 'deregister';
      this.#send({ op: 'deregister' });
    }
  }

  #send(msg: unknown): void {
    this.#socket?.write(`${JSON.stringify(msg)}\n`);
  }

  async #probe(): Promise<void> {
    if (this.#stopping) return;
    const ok = await this.#o.probe(this.#o.appPort);
    if (this.#stopping) return;
    if (ok) {
      this.#failures = 0;
      if (!this.#appUp) this.#o.log.info({ appPort: this.#o.appPort }, 'the app accepts connections: registering');
      this.#appUp = true;
    } else if (this.#appUp && ++this.#failures >= this.#o.failuresToDeregister) {
      this.#o.log.warn({ appPort: this.#o.appPort }, 'the app no longer accepts connections: deregistering');
      this.#appUp = false;
    }
    this.#sync();
    this.#probeTimer = setTimeout(() => void this.#probe(), this.#o.probeMs);
    this.#probeTimer.unref();
  }
}
