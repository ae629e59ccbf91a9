import { describe, expect, it } from 'vitest';
import { parseRegistrationFlags, registeredInstance } from '../../../../agent/registration/config.ts';

const agent = { service: 'orders', color: 'canary' };

describe('registration flags', () => {
  it('is off without --register, and needs --app-port with it', () => {
    expect(parseRegistrationFlags({}, 8080)).toBeUndefined();
    expect(parseRegistrationFlags({ register: false }, 8080)).toBeUndefined();
    expect(() => parseRegistrationFlags({ register: true }, undefined)).toThrow(/--register: needs --app-port/);
  });

  it('reads --advertise in its forms, --label pairs (flag or space-separated variable) and --deregister-wait-ms', () => {
    expect(parseRegistrationFlags({ register: true, advertise: '10.0.0.7' }, 8080)).toEqual({ host: '10.0.0.7', port: undefined, labels: {}, deregisterWaitMs: 1000 });
    expect(parseRegistrationFlags({ register: true, advertise: 'pod.example:9000' }, 8080)).toMatchObject({ host: 'pod.example', port: 9000 });
    expect(parseRegistrationFlags({ register: true, advertise: '[fd00::7]:9000' }, 8080)).toMatchObject({ host: 'fd00::7', port: 9000 });
    expect(parseRegistrationFlags({ register: true, advertise: 'fd00::7' }, 8080)).toMatchObject({ host: 'fd00::7', port: undefined });
    expect(parseRegistrationFlags({ register: true, label: ['version=v2', 'zone=a tier=web'], deregisterWaitMs: '0' }, 8080)).toMatchObject({
      labels: { version: 'v2', zone: 'a', tier: 'web' },
      deregisterWaitMs: 0,
    });
    for (const [flags, message] of [
      [{ advertise: 'a b' }, /--advertise: expected HOST or HOST:PORT/],
      [{ advertise: 'host:99999' }, /--advertise/],
      [{ label: 'version' }, /--label: expected KEY=VALUE, got "version"/],
      [{ label: 'color=blue' }, /--label: color is the agent's --color/],
      [{ deregisterWaitMs: '-1' }, /--deregister-wait-ms: expected an integer 0-60000/],
    ] as const) {
      expect(() => parseRegistrationFlags({ register: true, ...flags }, 8080)).toThrow(message);
    }
  });

  it('registers $POD_IP and the bound inbound port under the pod\'s name, with color and the labels', () => {
    const config = parseRegistrationFlags({ register: true, label: 'version=v2' }, 8080)!;
    const inbound = { host: '0.0.0.0', port: 15006 };
    expect(registeredInstance(config, agent, inbound, { POD_IP: '10.1.2.3', POD_NAME: 'orders-7c9d-x2x', POD_NAMESPACE: 'shop' })).toEqual({
      id: 'orders-7c9d-x2x.shop',
      instance: { service: 'orders', address: '10.1.2.3', port: 15006, labels: { color: 'canary', version: 'v2' } },
    });
  });

  it('falls back to the inbound host, and says when no address can be told', () => {
    const config = parseRegistrationFlags({ register: true }, 8080)!;
    expect(registeredInstance(config, agent, { host: '127.0.0.1', port: 40123 }, {})).toEqual({
      id: '127.0.0.1-40123',
      instance: { service: 'orders', address: '127.0.0.1', port: 40123, labels: { color: 'canary' } },
    });
    expect(() => registeredInstance(config, agent, { host: '0.0.0.0', port: 15006 }, {})).toThrow(/--advertise: required when POD_IP is not set/);
    const advertised = parseRegistrationFlags({ register: true, advertise: 'node-1.example:30006' }, 8080)!;
    expect(registeredInstance(advertised, agent, { host: '0.0.0.0', port: 15006 }, { POD_IP: '10.1.2.3' }).instance).toMatchObject({ address: 'node-1.example', port: 30006 });
  });
});
