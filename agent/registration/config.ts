/**
 * The agent's registration flags (docs/reference.md#registration) → a checked configuration,
 * and, once the inbound listener is bound, the instance to register: address and port from
 * `--advertise` (default `$POD_IP` and the inbound port), labels `color` plus `--label`s, the
 * id from the pod's name and namespace.
 */
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { UsageError } from '../../shared/errors.ts';
import type { HostPort } from '../../shared/net.ts';
import type { RegisteredInstance } from '../../shared/registration.ts';
import { checkDocumentName, checkLabels } from '../../shared/schema/validators/generated.ts';

/** The registration flags as the command line gives them. */
export interface RegistrationFlags {
  register?: boolean;
  advertise?: string;
  label?: string[] | string;
  deregisterWaitMs?: string;
}

/** A checked registration configuration (undefined: registration is off). */
export interface RegistrationConfig {
  /** `--advertise` host, when given (else $POD_IP, else the inbound host). */
  host?: string;
  /** `--advertise` port, when given (else the inbound port). */
  port?: number;
  /** Labels besides `color`. */
  labels: Record<string, string>;
  /** On SIGTERM, how long the inbound keeps accepting after deregistration, ms (default 1000). */
  deregisterWaitMs: number;
}

const HOST = /^[A-Za-z0-9.:_-]+$/;

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; undefined when malformed. */
function splitAdvertise(value: string): { host: string; port?: number } | undefined {
  let host: string;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed) [host, port] = [bracketed[1]!, bracketed[2]];
  else if ((value.match(/:/g) ?? []).length > 1) host = value;
  else [host, port] = value.split(':') as [string, string | undefined];
  const n = port === undefined ? undefined : Number(port);
  if (!HOST.test(host) || (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 65535))) return undefined;
  return { host, ...(n !== undefined && { port: n }) };
}

/**
 * Checks the registration flags; undefined when `--register` is off. With `inbound`, also
 * that an address to advertise can be told (`--advertise`, `$POD_IP`, or an inbound host that
 * is not a wildcard).
 */
export function parseRegistrationFlags(flags: RegistrationFlags, appPort: number | undefined, inbound?: HostPort, env: NodeJS.ProcessEnv = process.env): RegistrationConfig | undefined {
  if (flags.register !== true) return undefined;
  if (appPort === undefined) throw new UsageError('--register: needs --app-port (an agent without an inbound listener has nothing to register)');
  const config: RegistrationConfig = { labels: {}, deregisterWaitMs: 1000 };
  const advertise = flags.advertise?.trim();
  if (advertise) {
    const parsed = splitAdvertise(advertise);
    if (!parsed) throw new UsageError(`--advertise: expected HOST or HOST:PORT (an IP address or host name), got "${flags.advertise}"`);
    config.host = parsed.host;
    config.port = parsed.port;
  }
  const labels = (Array.isArray(flags.label) ? flags.label : flags.label === undefined ? [] : [flags.label]).flatMap((l) => l.split(/\s+/)).filter(Boolean);
  for (const pair of labels) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    if (eq <= 0 || !checkLabels({ [key]: pair.slice(eq + 1) }).ok) throw new UsageError(`--label: expected KEY=VALUE, got "${pair}"`);
    if (key === 'color') throw new UsageError('--label: color is the agent\'s --color, not a --label');
    config.labels[key] = pair.slice(eq + 1);
  }
  const wait = flags.deregisterWaitMs ?? '1000';
  const n = Number(wait);
  if (!/^\d+$/.test(wait.trim()) || n > 60_000) throw new UsageError(`--deregister-wait-ms: expected an integer 0-60000, got "${wait}"`);
  config.deregisterWaitMs = n;
  if (inbound !== undefined) registeredInstance(config, { service: 'check', color: 'stable' }, inbound, env);
  return config;
}

/**
 * The instance to register, once the inbound listener is bound at `inbound` (its real port when
 * it was given port 0), and its id.
 */
export function registeredInstance(
  config: RegistrationConfig,
  agent: { service: string; color: string },
  inbound: HostPort,
  env: NodeJS.ProcessEnv = process.env,
): { id: string; instance: RegisteredInstance } {
  const wildcard = inbound.host === '0.0.0.0' || inbound.host === '::' || inbound.host === '';
  const address = config.host ?? (env.POD_IP?.trim() || (wildcard ? undefined : inbound.host));
  if (address === undefined) {
    throw new UsageError('--advertise: required when POD_IP is not set and the inbound listener is on all interfaces (which address do callers use?)');
  }
  const port = config.port ?? inbound.port;
  const pod = env.POD_NAME?.trim();
  const ns = env.POD_NAMESPACE?.trim();
  const fallback = `${isIP(address) === 6 ? address.replace(/:/g, '-') : address}-${port}`;
  let id = pod ? (ns ? `${pod}.${ns}` : pod) : fallback;
  if (!checkDocumentName(id).ok) id = `${hostname()}-${port}`.replace(/[^A-Za-z0-9._:#@-]/g, '-');
  return { id, instance: { service: agent.service, address, port, labels: { color: agent.color, ...config.labels } } };
}
