/**
 * deploy/grafana/dyeline-lanes.json: every panel query (template variables filled the way
 * Grafana fills them) is valid PromQL on a real Prometheus, every dyeline_ metric it reads is one
 * the code defines, panel ids are unique and no two panels overlap on the grid.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrometheusServer } from '../support/prometheus-server.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(readFileSync(`${ROOT}deploy/grafana/dyeline-lanes.json`, 'utf8')) as {
  panels: Panel[];
  templating: { list: { name: string; query?: string | { query: string } }[] };
};

/** Metric names the production code defines (instrument calls and dyeline_* literals). */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['agent', 'daemon', 'shared', 'rollout']) {
    for (const file of readdirSync(`${ROOT}${dir}`, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const src = readFileSync(`${ROOT}${dir}/${file}`, 'utf8');
      for (const m of src.matchAll(/(['"`])(dyeline_[a-z0-9_]+)\1/g)) names.add(m[2]!);
    }
  }
  return names;
}

/** The expression as Grafana sends it: variables filled with "all". */
function filled(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$service', '.*').replaceAll('$lane', '.*');
}

const queries = [
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr }))),
  ...dashboard.templating.list.flatMap((v) => {
    const q = typeof v.query === 'object' ? v.query.query : undefined;
    const m = q === undefined ? null : /^label_values\((.*), [a-z_]+\)$/.exec(q);
    return m === null ? [] : [{ where: `variable $${v.name}`, expr: m[1]! }];
  }),
];

let prom: PrometheusServer;
beforeAll(async () => {
  prom = await PrometheusServer.start();
});
afterAll(async () => {
  await prom?.cleanup();
});

describe('Grafana dashboard', () => {
  it('has queries, unique panel ids and no overlapping panels', () => {
    expect(queries.length).toBeGreaterThan(10);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          const other = cells.get(`${x},${y}`);
          expect(other, `"${p.title}" overlaps "${other}"`).toBeUndefined();
          cells.set(`${x},${y}`, p.title);
        }
      }
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('reads only metrics the code defines', () => {
    const defined = definedMetrics();
    for (const q of queries) {
      for (const m of q.expr.matchAll(/dyeline_[a-z0-9_]+/g)) {
        const name = m[0].replace(/_(bucket|sum|count)$/, '');
        expect(defined.has(name), `${q.where}: ${m[0]} is not defined by the code`).toBe(true);
      }
    }
  });

  it('is valid PromQL on Prometheus 2.42', async () => {
    for (const q of queries) {
      await expect(prom.query(filled(q.expr)), `${q.where}: ${q.expr}`).resolves.toBeInstanceOf(Array);
    }
  });
});
