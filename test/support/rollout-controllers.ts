/**
 * Two `dyeline rollout` controllers on one store, as the rollout e2e files run them: what a
 * controller's `/rollouts` says (leader, lease holder, rollouts), and the lease handed over when
 * the leader stops (docs/reference.md#progressive-delivery).
 */
import { expect } from 'vitest';
import type { DyelineProcess } from './process.ts';
import { waitFor } from './wait.ts';

export interface RolloutsView {
  leader: boolean;
  holder: string | null;
  body: { phase: string; share: number; reason: string }[];
}

/** A controller's `/rollouts`: the rollouts, and whether it leads (with the lease holder) from its headers. */
export async function rollouts(c: DyelineProcess): Promise<RolloutsView> {
  const res = await fetch(`http://${c.listeners.get('status')!}/rollouts`);
  return { leader: res.headers.get('x-dyeline-leader') === 'true', holder: res.headers.get('x-dyeline-lease-holder'), body: (await res.json()) as RolloutsView['body'] };
}

/**
 * Stops the leader of two controllers (it must exit 0) and waits for the other to lead: within
 * the 3 s lease TTL, so the stopped leader gave its lease up. Returns the new leader's view.
 */
export async function stopLeader(controllers: readonly DyelineProcess[]): Promise<RolloutsView> {
  const views = await Promise.all(controllers.map(rollouts));
  const i = views.findIndex((v) => v.leader);
  const [leader, other] = [controllers[i]!, controllers[1 - i]!];
  const stopped = Date.now();
  expect(await leader.stop()).toBe(0);
  await waitFor(async () => (await rollouts(other)).leader, { timeoutMs: 5_000, intervalMs: 50, what: 'the other controller leads' });
  expect(Date.now() - stopped).toBeLessThan(3000);
  const now = await rollouts(other);
  expect(now.holder).not.toBe(views[i]!.holder);
  return now;
}
