import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Breakers } from '../../../../agent/resilience/breakers.ts';
import { createResilienceMetrics } from '../../../../agent/resilience/metrics.ts';
import { compileSnapshot } from '../../../../agent/routing/compile.ts';
import { EndpointStates } from '../../../../agent/routing/endpoint-states.ts';
import { createMetrics } from '../../../../shared/metrics.ts';
import { find, scrape } from '../../../support/prometheus.ts';
import { buildSnapshot, instance, lane, service } from '../../../support/snapshot-builder.ts';

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe('resilience metrics', () => {
  it('dyeline_circuit_state shows the circuits that exist now: a removed lane\'s open circuit leaves with it', async () => {
    const metrics = createMetrics('web');
    const server = createServer((req, res) => metrics.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const breakers = new Breakers();
    cleanup.push(() => {
      server.close();
      breakers.close();
      void metrics.shutdown();
    });
    createResilienceMetrics(metrics, breakers);
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const states = new EndpointStates();
    const withCanary = compileSnapshot(
      buildSnapshot([lane('canary'), service('orders', { circuitBreaker: { volumeThreshold: 2 } }), instance('o1', 'orders', '10.0.0.1'), instance('o2', 'orders', '10.0.0.2', { color: 'canary' })], 1),
      states,
    );
    breakers.bind(withCanary);
    const b = breakers.forSubset(withCanary.service('orders')!.subsets.get('canary')!)!;
    for (let i = 0; i < 2; i++) b.record(b.admit(), Date.now(), true, false);
    expect(b.state).toBe('open');
    expect(find(await scrape(address), 'dyeline_circuit_state')).toEqual([{ name: 'dyeline_circuit_state', labels: { upstream: 'orders', subset: 'canary' }, value: 2 }]);

    // The canary lane and its instance are gone from the next snapshot.
    breakers.bind(compileSnapshot(buildSnapshot([service('orders'), instance('o1', 'orders', '10.0.0.1')], 2), states));
    expect(find(await scrape(address), 'dyeline_circuit_state')).toEqual([]);
  });
});
