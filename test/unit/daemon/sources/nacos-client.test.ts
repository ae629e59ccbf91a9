/** Failures of the nacos client as short lines with no credentials in them; a closed client throws nothing. */
import type { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createConfigClient, describeNacosError, NacosHttp, redactSecrets } from '../../../../daemon/sources/nacos-client.ts';

const SECRETS = ['p@ss w0rd!', 'dye-user'];

describe('describeNacosError', () => {
  it("drops urllib's request suffix, whose query string carries the credentials", () => {
    const err = new Error(
      'connect ECONNREFUSED 127.0.0.1:8848 (req "error"), GET http://127.0.0.1:8848/nacos/v1/cs/configs?dataId=a&group=G&username=dye-user&password=p%40ss%20w0rd! -1 (connected: false, keepalive socket: false)',
    );
    expect(describeNacosError(err, SECRETS)).toBe('connect ECONNREFUSED 127.0.0.1:8848 (req "error")');
  });

  it("drops nacos-config's url/data suffix and adds the server's answer", () => {
    const err = Object.assign(
      new Error('Nacos Server Error Status: 403, url: http://127.0.0.1:8848/nacos/v1/cs/configs, data: {"dataId":"a","username":"dye-user","password":"p@ss w0rd!"}'),
      { body: 'unknown user!' },
    );
    expect(describeNacosError(err, SECRETS)).toBe('Nacos Server Error Status: 403 (unknown user!)');
  });

  it('redacts secrets wherever else they appear, raw, URL-encoded or JSON-escaped, and credential parameters', () => {
    const text = redactSecrets('user dye-user said p@ss w0rd! / p%40ss%20w0rd! / p%40ss+w0rd%21 / password=other&accessToken=tok123 {"username":"x"}', SECRETS);
    expect(text).not.toMatch(/dye-user|p@ss|p%40ss|other|tok123/);
    expect(text).toContain('password=[redacted]');
    expect(describeNacosError('plain string p@ss w0rd!', SECRETS)).toBe('plain string [redacted]');
  });
});

describe('createConfigClient', () => {
  it('closed, drops a failure its worker reports late instead of throwing it out of a timer', () => {
    const http = new NacosHttp(0);
    http.close(); // requests never settle: no network in this test
    const namingLogger = { info() {}, warn() {}, error() {}, debug() {} };
    const client = createConfigClient({ servers: ['127.0.0.1:1'], namespace: '', requestTimeoutMs: 1000, http, namingLogger });
    client.subscribe({ dataId: 'rules.yaml', group: 'DYELINE' }, () => {});
    const workers = [...(client as unknown as { clients: Map<string, EventEmitter> }).clients.values()];
    expect(workers).toHaveLength(1);
    client.close();
    // What nacos-config's worker does when a read in flight fails after close(): emit 'error'.
    // With no listener left, EventEmitter throws it (an uncaught exception in the daemon).
    expect(() => workers[0]!.emit('error', new Error('getConfig failed: 403'))).not.toThrow();
  });
});
