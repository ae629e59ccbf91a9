/**
 * A pod the way `dyeline inject` shapes it, as real processes: `dyeline agent` first, with
 * --app-port on a free loopback port, then the app on that port reaching other services through
 * HTTP_PROXY = the agent's outbound listener (NODE_USE_ENV_PROXY=1, as inject sets it). The app
 * is any command that prints {"msg":"listening",…} once bound and reads APP_PORT.
 *
 *   const pod = await startProxiedPod({ service: 'orders', color: 'canary', snapshot, command: ['--import', preload, app], env: { APP_STYLE: 'express' } });
 */
import { startAgentProcess } from './apps.ts';
import { type LineProcess, spawnLines } from './line-process.ts';
import { freePort } from './ports.ts';
import type { DyelineProcess } from './process.ts';

/** An agent and the app behind it. */
export interface ProxiedPod {
  service: string;
  color: string;
  app: LineProcess;
  agent: DyelineProcess;
  /** The agent's inbound address: what Instance documents point at. */
  inbound: string;
  status: string;
  admin: string;
  stop(): Promise<void>;
}

/** Starts the agent, then the app (`node <command>`) with APP_SERVICE, APP_COLOR, APP_PORT and the proxy environment. */
export async function startProxiedPod(opts: { service: string; color: string; snapshot: string; command: string[]; env?: NodeJS.ProcessEnv; agentArgs?: string[] }): Promise<ProxiedPod> {
  const appPort = await freePort();
  const agent = await startAgentProcess({ service: opts.service, color: opts.color, appPort, snapshot: opts.snapshot, extraArgs: opts.agentArgs });
  const proxy = `http://${agent.listeners.get('outbound')!}`;
  const app = spawnLines(process.execPath, opts.command, {
    env: {
      APP_SERVICE: opts.service,
      APP_COLOR: opts.color,
      APP_PORT: String(appPort),
      HTTP_PROXY: proxy,
      http_proxy: proxy,
      NO_PROXY: '',
      no_proxy: '',
      NODE_USE_ENV_PROXY: '1',
      ...opts.env,
    },
  });
  try {
    await app.waitForLine((l) => l.msg === 'listening', { timeoutMs: 20_000, what: `${opts.service}-${opts.color} app listening` });
  } catch (err) {
    await Promise.allSettled([app.stop('SIGKILL'), agent.stop()]);
    throw err;
  }
  return {
    service: opts.service,
    color: opts.color,
    app,
    agent,
    inbound: agent.listeners.get('inbound')!,
    status: agent.listeners.get('status')!,
    admin: agent.listeners.get('admin')!,
    async stop() {
      await Promise.allSettled([app.stop(), agent.stop()]);
    },
  };
}
