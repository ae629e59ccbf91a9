/**
 * Agent configuration: flags (and their DYELINE_* variables) → a checked config. A bad value is
 * a UsageError naming the flag (the CLI exits 2).
 */
import { isValidColor } from '../shared/color.ts';
import { UsageError } from '../shared/errors.ts';
import { type HostPort, parseHostPort, parsePort } from '../shared/net.ts';
import { checkServiceName } from '../shared/schema/validators/generated.ts';
import { parseRegistrationFlags, type RegistrationConfig, type RegistrationFlags } from './registration/config.ts';

/**
 * The agent's flags as the command line gives them (strings; `cli/agent.ts` declares them with
 * their defaults and help, see docs/reference.md#agent).
 */
export interface AgentFlags extends RegistrationFlags {
  service?: string;
  color: string;
  appPort?: string;
  inbound: string;
  outbound: string;
  status: string;
  admin: string;
  snapshot: string;
  drainTimeoutMs: string;
  maxHops?: string;
  connectTimeoutMs?: string;
  accessLog?: string;
  leakWindowMs?: string;
  leakTraces?: string;
  acceptColor?: string;
}

/** A checked agent configuration. */
export interface AgentConfig {
  /** The service this pod belongs to. */
  service: string;
  /** The lane of this pod's instance (default `stable`). */
  color: string;
  /** The app's port on 127.0.0.1; undefined: no inbound listener. */
  appPort: number | undefined;
  /** Inbound listener (default 0.0.0.0:15006). */
  inbound: HostPort;
  /** Outbound listener (default 127.0.0.1:15001). */
  outbound: HostPort;
  /** Status listener: /healthz, /readyz, /metrics (default 0.0.0.0:15090). */
  status: HostPort;
  /** Admin listener: /config, /clusters (default 127.0.0.1:15000). */
  admin: HostPort;
  /** Snapshot file written by the daemon (default /var/run/dyeline/snapshot.json). */
  snapshot: string;
  /** On SIGTERM, how long in-flight requests may take to finish, ms (default 15000). */
  drainTimeoutMs: number;
  /** Agent hops after which a request is answered 508 as a loop (default 32). */
  maxHops: number;
  /** Connect timeout to upstreams, ms (default 3000). */
  connectTimeoutMs: number;
  /** One `request` log line per request (undefined: true; --access-log false turns it off). */
  accessLog?: boolean;
  /** Self-registration through the node's daemon (--register); undefined: off. */
  registration?: RegistrationConfig;
  /**
   * Lane-leak recovery (docs/reference.md#lane-leak-recovery): how long the colour of a trace that
   * arrived coloured is remembered, ms (undefined: 30000; 0 turns recovery off).
   */
  leakWindowMs?: number;
  /** Lane-leak recovery: how many traces are remembered at most (undefined: 4096). */
  leakTraces?: number;
  /**
   * Whose colour the inbound listener honours: `any` caller (default), or only peers whose
   * address is an instance address of the snapshot (`mesh`; docs/reference.md#entry-trust-and-header-hygiene).
   */
  acceptColor?: 'any' | 'mesh';
}

function parseAcceptColor(value: string): 'any' | 'mesh' {
  const v = value.trim().toLowerCase();
  if (v === 'any' || v === 'mesh') return v;
  throw new UsageError(`--accept-color: expected any or mesh, got ${JSON.stringify(value)}`);
}

/** Defaults of lane-leak recovery: 30 s, 4096 traces (about 0.8 MiB when full, test/bench/lane-memory.ts). */
export const LEAK_DEFAULTS = { windowMs: 30_000, traces: 4096 } as const;

/** Parses a boolean flag: true/false, 1/0, yes/no, on/off. */
function parseBool(value: string, flag: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes' || v === 'on') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === 'off') return false;
  throw new UsageError(`${flag}: expected true or false, got "${value}"`);
}

/** Parses an integer flag in [min, max]. */
function parseInteger(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag}: expected an integer ${min}-${max}, got "${value}"`);
  }
  return n;
}

/** Checks the agent's flags. */
export function parseAgentConfig(flags: AgentFlags): AgentConfig {
  const service = flags.service?.trim();
  if (!service) throw new UsageError('--service: required (the service this pod belongs to), or set DYELINE_SERVICE');
  if (!checkServiceName(service).ok) {
    throw new UsageError(`--service: expected a service name (lowercase letters, digits, "-", "_"; 1-63 chars), got "${service}"`);
  }
  const color = flags.color.trim();
  if (!isValidColor(color)) throw new UsageError(`--color: expected a colour like "canary" (^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$), got "${flags.color}"`);
  const appPort = flags.appPort === undefined || flags.appPort.trim() === '' ? undefined : parsePort(flags.appPort, '--app-port');
  if (!flags.snapshot || flags.snapshot.trim() === '') throw new UsageError('--snapshot: expected a file path');
  const inbound = parseHostPort(flags.inbound, '--inbound');
  const registration = parseRegistrationFlags(flags, appPort, inbound);
  return {
    service,
    color,
    appPort,
    inbound,
    outbound: parseHostPort(flags.outbound, '--outbound'),
    status: parseHostPort(flags.status, '--status'),
    admin: parseHostPort(flags.admin, '--admin'),
    snapshot: flags.snapshot,
    drainTimeoutMs: parseInteger(flags.drainTimeoutMs, '--drain-timeout-ms', 0, 3_600_000),
    maxHops: parseInteger(flags.maxHops ?? '32', '--max-hops', 1, 1000),
    connectTimeoutMs: parseInteger(flags.connectTimeoutMs ?? '3000', '--connect-timeout-ms', 1, 600_000),
    accessLog: parseBool(flags.accessLog ?? 'true', '--access-log'),
    ...(registration && { registration }),
    leakWindowMs: parseInteger(flags.leakWindowMs ?? String(LEAK_DEFAULTS.windowMs), '--leak-window-ms', 0, 3_600_000),
    leakTraces: parseInteger(flags.leakTraces ?? String(LEAK_DEFAULTS.traces), '--leak-traces', 1, 1_000_000),
    acceptColor: parseAcceptColor(flags.acceptColor ?? 'any'),
  };
}
