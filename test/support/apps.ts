/**
 * Upstream apps for e2e tests as real processes (test/support/app-main.ts), and the agent that
 * sits next to each: `startPod` starts an app, then `dyeline agent` with --app-port pointing at
 * it, then tells the app its agent's outbound address.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnLines } from './line-process.ts';
import { type DyelineProcess, startDyeline } from './process.ts';

const APP_MAIN = fileURLToPath(new URL('./app-main.ts', import.meta.url));

/** A running app process. */
export interface AppProcess {
  proc: ChildProcess;
  service: string;
  color: string;
  instance: string;
  /** 127.0.0.1:PORT the app listens on. */
  address: string;
  port: number;
  /** Tells the app where its agent's outbound listener is. */
  setOutbound(address: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts one app process. */
export async function startApp(service: string, color = 'stable', instance = `${service}-${color}`, env: NodeJS.ProcessEnv = {}): Promise<AppProcess> {
  const child = spawnLines(process.execPath, [APP_MAIN], { env: { APP_SERVICE: service, APP_COLOR: color, APP_INSTANCE: instance, ...env }, stdin: true });
  const listening = await child.waitForLine((l) => l.msg === 'listening', { timeoutMs: 15_000, what: `app ${instance} listening` });
  const address = String(listening.address);
  return {
    proc: child.proc,
    service,
    color,
    instance,
    address,
    port: Number(address.slice(address.lastIndexOf(':') + 1)),
    async setOutbound(outbound: string) {
      child.send({ outbound });
      await child.waitForLine((l) => l.msg === 'outbound set' && l.outbound === outbound, { timeoutMs: 5_000, what: `app ${instance} outbound` });
    },
    async stop() {
      await child.stop('SIGTERM', 5_000);
    },
  };
}

/** Starts `dyeline agent` with every listener on a free loopback port. */
export function startAgentProcess(opts: { service: string; color?: string; appPort?: number; snapshot: string; env?: NodeJS.ProcessEnv; extraArgs?: string[] }): Promise<DyelineProcess> {
  const args = ['agent', '--service', opts.service, '--color', opts.color ?? 'stable', '--snapshot', opts.snapshot];
  args.push('--outbound', '127.0.0.1:0', '--status', '127.0.0.1:0', '--admin', '127.0.0.1:0');
  const listeners = ['outbound', 'status', 'admin'];
  if (opts.appPort !== undefined) {
    args.push('--app-port', String(opts.appPort), '--inbound', '127.0.0.1:0');
    listeners.push('inbound');
  }
  args.push(...(opts.extraArgs ?? []));
  return startDyeline(args, { env: opts.env, listeners });
}

/** An app and its agent: one pod. */
export interface Pod {
  app: AppProcess;
  agent: DyelineProcess;
  /** The agent's inbound address: what Instance documents point at. */
  inbound: string;
  outbound: string;
  status: string;
  admin: string;
  stop(): Promise<void>;
}

/**
 * Starts an app and its agent and wires the app to the agent's outbound listener; `opts.appEnv`
 * is added to the app's environment, `opts.agentArgs` to the agent's flags.
 */
export async function startPod(
  service: string,
  color: string,
  snapshot: string,
  instance = `${service}-${color}`,
  opts: { appEnv?: NodeJS.ProcessEnv; agentArgs?: string[] } = {},
): Promise<Pod> {
  const app = await startApp(service, color, instance, opts.appEnv);
  let agent: DyelineProcess;
  try {
    agent = await startAgentProcess({ service, color, appPort: app.port, snapshot, extraArgs: opts.agentArgs });
  } catch (err) {
    await app.stop();
    throw err;
  }
  const outbound = agent.listeners.get('outbound')!;
  await app.setOutbound(outbound);
  return {
    app,
    agent,
    inbound: agent.listeners.get('inbound')!,
    outbound,
    status: agent.listeners.get('status')!,
    admin: agent.listeners.get('admin')!,
    async stop() {
      await Promise.allSettled([agent.stop(), app.stop()]);
    },
  };
}

/** A pod whose agent registers it through the node's daemon (`--register`). */
export interface RegisteredPod extends Pod {
  /** The instance id the agent registers: `<podName>[.<namespace>]`. */
  id: string;
  /** The inbound listener's port (the registered port). */
  port: number;
}

/**
 * Starts an app and its agent with `--register`, the pod's name (and namespace) in POD_NAME /
 * POD_NAMESPACE as injection sets them, and wires the app to the agent's outbound listener.
 */
export async function startRegisteredPod(opts: {
  service: string;
  color: string;
  podName: string;
  snapshot: string;
  namespace?: string;
  extraArgs?: string[];
}): Promise<RegisteredPod> {
  const app = await startApp(opts.service, opts.color, opts.podName);
  let agent: DyelineProcess;
  try {
    agent = await startAgentProcess({
      service: opts.service,
      color: opts.color,
      appPort: app.port,
      snapshot: opts.snapshot,
      env: { POD_NAME: opts.podName, ...(opts.namespace !== undefined && { POD_NAMESPACE: opts.namespace }) },
      extraArgs: ['--register', ...(opts.extraArgs ?? [])],
    });
  } catch (err) {
    await app.stop();
    throw err;
  }
  const outbound = agent.listeners.get('outbound')!;
  await app.setOutbound(outbound);
  const inbound = agent.listeners.get('inbound')!;
  return {
    app,
    agent,
    inbound,
    outbound,
    status: agent.listeners.get('status')!,
    admin: agent.listeners.get('admin')!,
    id: opts.namespace !== undefined ? `${opts.podName}.${opts.namespace}` : opts.podName,
    port: Number(inbound.slice(inbound.lastIndexOf(':') + 1)),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      await Promise.allSettled([agent.stop(signal), app.stop()]);
    },
  };
}
