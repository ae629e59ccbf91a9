import { describe, expect, it } from 'vitest';
import { type AgentFlags, parseAgentConfig } from '../../../agent/config.ts';
import { UsageError } from '../../../shared/errors.ts';

const defaults: AgentFlags = {
  service: 'orders',
  color: 'stable',
  inbound: '0.0.0.0:15006',
  outbound: '127.0.0.1:15001',
  status: '0.0.0.0:15090',
  admin: '127.0.0.1:15000',
  snapshot: '/var/run/dyeline/snapshot.json',
  drainTimeoutMs: '15000',
};

function usage(flags: Partial<AgentFlags>): string {
  try {
    parseAgentConfig({ ...defaults, ...flags });
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('parseAgentConfig', () => {
  it('applies the contract defaults', () => {
    expect(parseAgentConfig(defaults)).toEqual({
      service: 'orders',
      color: 'stable',
      appPort: undefined,
      inbound: { host: '0.0.0.0', port: 15006 },
      outbound: { host: '127.0.0.1', port: 15001 },
      status: { host: '0.0.0.0', port: 15090 },
      admin: { host: '127.0.0.1', port: 15000 },
      snapshot: '/var/run/dyeline/snapshot.json',
      drainTimeoutMs: 15000,
      maxHops: 32,
      connectTimeoutMs: 3000,
      accessLog: true,
      leakWindowMs: 30000,
      leakTraces: 4096,
      acceptColor: 'any',
    });
  });

  it('--leak-window-ms 0 turns lane-leak recovery off; both flags are bounded integers', () => {
    expect(parseAgentConfig({ ...defaults, leakWindowMs: '0', leakTraces: '100' })).toMatchObject({ leakWindowMs: 0, leakTraces: 100 });
    expect(usage({ leakWindowMs: '-1' })).toMatch(/^--leak-window-ms: expected an integer 0-3600000/);
    expect(usage({ leakTraces: '0' })).toMatch(/^--leak-traces: expected an integer 1-1000000/);
  });

  it('--accept-color takes any or mesh', () => {
    expect(parseAgentConfig({ ...defaults, acceptColor: 'mesh' }).acceptColor).toBe('mesh');
    expect(parseAgentConfig({ ...defaults, acceptColor: 'ANY' }).acceptColor).toBe('any');
    expect(usage({ acceptColor: 'all' })).toMatch(/^--accept-color: expected any or mesh/);
  });

  it('--access-log takes true/false (and 1/0, yes/no, on/off)', () => {
    expect(parseAgentConfig({ ...defaults, accessLog: 'false' }).accessLog).toBe(false);
    expect(parseAgentConfig({ ...defaults, accessLog: 'off' }).accessLog).toBe(false);
    expect(parseAgentConfig({ ...defaults, accessLog: 'TRUE' }).accessLog).toBe(true);
    expect(usage({ accessLog: 'maybe' })).toMatch(/^--access-log: expected true or false/);
  });

  it('accepts port 0 listeners, an app port and a lane', () => {
    const c = parseAgentConfig({ ...defaults, color: 'canary', appPort: '8080', outbound: '127.0.0.1:0', maxHops: '5' });
    expect(c).toMatchObject({ color: 'canary', appPort: 8080, outbound: { port: 0 }, maxHops: 5 });
  });

  it('names the flag of a bad value', () => {
    expect(usage({ service: undefined })).toMatch(/^--service: required/);
    expect(usage({ service: 'Orders!' })).toMatch(/^--service:/);
    expect(usage({ color: 'Canary' })).toMatch(/^--color:/);
    expect(usage({ appPort: '70000' })).toMatch(/^--app-port:/);
    expect(usage({ inbound: 'nope' })).toMatch(/^--inbound:/);
    expect(usage({ outbound: '1.2.3.4' })).toMatch(/^--outbound:/);
    expect(usage({ status: ':x' })).toMatch(/^--status:/);
    expect(usage({ admin: '' })).toMatch(/^--admin:/);
    expect(usage({ drainTimeoutMs: '-1' })).toMatch(/^--drain-timeout-ms:/);
    expect(usage({ maxHops: '0' })).toMatch(/^--max-hops:/);
    expect(usage({ connectTimeoutMs: '1.5' })).toMatch(/^--connect-timeout-ms:/);
    expect(usage({ snapshot: '' })).toMatch(/^--snapshot:/);
  });
});
