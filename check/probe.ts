/**
 * The probes of `dyeline check`: N GET requests for service S with lane colour C, sent through
 * an agent's outbound listener as an HTTP proxy would (absolute-form), each asking for its path
 * (`x-dyeline-probe: 1`) and carrying its own sampled trace id so that it can be found in a
 * trace backend. One at a time: a check is a probe, not a load.
 */
import { randomBytes } from 'node:crypto';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { COLOR_HEADER } from '../shared/color.ts';
import { errorMessage } from '../shared/errors.ts';
import { PATH_HEADER, PROBE_HEADER, parsePath } from '../shared/probe-path.ts';
import type { ProbeAnswer } from './hops.ts';

/** What to probe. */
export interface ProbePlan {
  /** `host:port` of an agent's outbound listener. */
  readonly via: string;
  readonly service: string;
  readonly color: string;
  /** Request path, e.g. `/`. */
  readonly path: string;
  /** More request headers (`-H 'k: v'`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly requests: number;
  readonly timeoutMs: number;
}

/** One probe's answer and its trace id. */
export interface Probe extends ProbeAnswer {
  readonly traceId: string;
  readonly servedColor: string;
  readonly fallback: string;
}

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? '';

/** One GET through the agent as an HTTP proxy (absolute-form); resolves with the status and headers. */
function get(plan: ProbePlan, agent: Agent, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const colon = plan.via.lastIndexOf(':');
  const host = plan.via.slice(0, colon).replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(plan.via.slice(colon + 1)), method: 'GET', path: `http://${plan.service}${plan.path}`, headers, agent }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.once('error', reject);
    });
    req.setTimeout(plan.timeoutMs, () => req.destroy(new Error(`no answer within ${plan.timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** Sends the probes; transport failures are answers with status 0. */
export async function sendProbes(plan: ProbePlan): Promise<Probe[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const out: Probe[] = [];
  try {
    for (let i = 0; i < plan.requests; i++) {
      const traceId = randomBytes(16).toString('hex');
      try {
        const res = await get(plan, agent, {
          ...plan.headers,
          host: plan.service,
          [COLOR_HEADER]: plan.color,
          [PROBE_HEADER]: '1',
          traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
        });
        const path = parsePath(one(res.headers[PATH_HEADER]));
        out.push({ traceId, status: res.status, entries: path.entries, dropped: path.dropped, servedColor: one(res.headers['x-dyeline-served-color']), fallback: one(res.headers['x-dyeline-fallback']) });
      } catch (err) {
        out.push({ traceId, status: 0, error: errorMessage(err), entries: [], dropped: 0, servedColor: '', fallback: '' });
      }
    }
  } finally {
    agent.destroy();
  }
  return out;
}
