/**
 * The colour order has one source of truth: for every combination of the four colour carriers
 * (header, baggage, cookie, query — each absent, valid or invalid), `explain` on the agent's own
 * table says what a real agent does with the same request: the colour it forwards (or dyes), the
 * carrier that decided, and whether an invalid colour was counted. Inbound (dye rules apply at
 * the entry service) and outbound (no dyeing) listeners alike.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExplainInput, explain, requestOf } from '../../../agent/explain.ts';
import type { CompiledTable } from '../../../agent/routing/compile.ts';
import { echo, send, startTestAgent, startUpstream, type TestAgent } from '../../support/agent-harness.ts';
import { total, parsePrometheus } from '../../support/prometheus.ts';
import { instance, lane } from '../../support/snapshot-builder.ts';

type Upstream = Awaited<ReturnType<typeof startUpstream>>;
type State = 'absent' | 'valid' | 'invalid';

/** Each carrier's valid and invalid value, as a request carries it (valid ones differ, so the deciding carrier shows). */
const CARRIERS = {
  header: { valid: 'h-lane', invalid: 'H_Lane' },
  baggage: { valid: 'b-lane', invalid: 'b!lane' },
  cookie: { valid: 'c-lane', invalid: '%zz' },
  query: { valid: 'q-lane', invalid: 'q lane' },
} as const;
type CarrierName = keyof typeof CARRIERS;
const NAMES = Object.keys(CARRIERS) as CarrierName[];
const STATES: State[] = ['absent', 'valid', 'invalid'];

/** Every combination of carrier states (3⁴ = 81). */
function combinations(): Record<CarrierName, State>[] {
  const out: Record<CarrierName, State>[] = [];
  for (let n = 0; n < STATES.length ** NAMES.length; n++) {
    let k = n;
    const c = {} as Record<CarrierName, State>;
    for (const name of NAMES) {
      c[name] = STATES[k % STATES.length];
      k = Math.floor(k / STATES.length);
    }
    out.push(c);
  }
  return out;
}

/** The explain input for a combination: always a `x-dye: yes` header and a baggage entry that is not the colour. */
function inputOf(c: Record<CarrierName, State>, from: string | undefined): ExplainInput {
  const value = (name: CarrierName) => CARRIERS[name][c[name] as 'valid' | 'invalid'];
  const headers: [string, string][] = [['x-dye', 'yes']];
  if (c.header !== 'absent') headers.push(['x-traffic-color', value('header')]);
  headers.push(['baggage', c.baggage === 'absent' ? 'k=v' : `k=v,traffic_color=${value('baggage')}`]);
  const cookies: [string, string][] = c.cookie === 'absent' ? [] : [['traffic_color', value('cookie')]];
  const query: [string, string][] = c.query === 'absent' ? [] : [['traffic_color', value('query')]];
  return { service: 'orders', from, headers, cookies, query };
}

/** What the contract says independently of both: the first carrier present decides. */
function firstPresent(c: Record<CarrierName, State>): CarrierName | undefined {
  return NAMES.find((n) => c[n] !== 'absent');
}

let app: Upstream;
let orders: Upstream;
let agent: TestAgent;

beforeAll(async () => {
  app = await startUpstream(echo('app'));
  orders = await startUpstream(echo('orders'));
  agent = await startTestAgent(
    [
      lane('dyed', { dye: { entry: ['gateway'], match: [{ headers: { 'x-dye': { exact: 'yes' } } }] } }),
      ...['h-lane', 'b-lane', 'c-lane', 'q-lane'].map((color) => lane(color)),
      instance('orders-1', 'orders', '127.0.0.1', { port: orders.port }),
    ],
    { service: 'gateway', appPort: app.port },
  );
});

afterAll(async () => {
  await agent?.stop();
  await app?.close();
  await orders?.close();
});

async function invalidCount(): Promise<number> {
  return total(parsePrometheus((await send(agent.address('status'), { path: '/metrics' })).body), 'dyeline_invalid_color_total');
}

describe('explain agrees with the agent on the colour', () => {
  for (const [listener, from] of [
    ['inbound', 'gateway'],
    ['outbound', undefined],
  ] as const) {
    it(`on every combination of carriers (${listener} listener${from ? ', dye rules at the entry' : ''})`, async () => {
      const table = agent.agent.ctx.table as CompiledTable;
      const sources = new Set<string | null>();
      const invalids = new Set<string | null>();
      for (const c of combinations()) {
        const input = inputOf(c, from);
        const said = explain(table, input);
        const { headers, url } = requestOf(input);
        if (listener === 'outbound') headers.host = 'orders';
        const before = await invalidCount();
        const answer = await send(agent.address(listener), { path: url, headers: headers as Record<string, string> });
        expect(answer.status, JSON.stringify(c)).toBe(200);
        const seen = (JSON.parse(answer.body) as { headers: Record<string, string | undefined> }).headers;
        const what = `${listener} ${JSON.stringify(c)}: explain says ${JSON.stringify({ color: said.color, source: said.colorSource, invalid: said.invalidColorIn })}`;
        expect(seen['x-traffic-color'] ?? null, what).toBe(said.color);
        expect(seen.baggage, what).toBe(said.color === null ? 'k=v' : `k=v,traffic_color=${said.color}`);
        expect((await invalidCount()) - before, what).toBe(said.invalidColorIn === null ? 0 : 1);

        // Both follow the documented order: the first carrier present decides.
        const first = firstPresent(c);
        if (first !== undefined && c[first] === 'valid') expect(said, what).toMatchObject({ colorSource: first, color: CARRIERS[first].valid, invalidColorIn: null });
        else expect(said, what).toMatchObject({ colorSource: from ? 'dye' : null, color: from ? 'dyed' : null, invalidColorIn: first ?? null });
        sources.add(said.colorSource);
        invalids.add(said.invalidColorIn);
      }
      expect([...sources].sort()).toEqual(from ? ['baggage', 'cookie', 'dye', 'header', 'query'] : [null, 'baggage', 'cookie', 'header', 'query'].sort());
      expect([...invalids].sort()).toEqual([null, 'baggage', 'cookie', 'header', 'query'].sort());
    });
  }
});
