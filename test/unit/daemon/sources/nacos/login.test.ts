/**
 * Login for the gRPC transport against the test Nacos's HTTP front-end: Nacos 3's v3 path, Nacos 2's
 * v1 path after a 404, renewal at 90% of the token's life, one login for concurrent callers, and
 * refusals reported without credentials; with TLS files, over https only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { NacosLogin, NacosLoginError } from '../../../../../daemon/sources/nacos/login.ts';
import { NacosTlsFiles } from '../../../../../daemon/sources/nacos/tls.ts';
import { tlsSet } from '../../../../support/certs.ts';
import { NacosTestServer } from '../../../../support/nacos-server.ts';
import { TlsTerminator } from '../../../../support/tls-terminator.ts';

const USER = 'login-user-8f';
const PASSWORD = 'pw with space & amp!';
const servers: NacosTestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function nacos(opts: ConstructorParameters<typeof NacosTestServer>[0]): Promise<NacosTestServer> {
  const s = await new NacosTestServer({ username: USER, password: PASSWORD, ...opts }).start();
  servers.push(s);
  return s;
}

const loginPaths = (s: NacosTestServer) => s.requests.filter((r) => r.path.endsWith('/login')).map((r) => `${r.path} ${r.status}`);

describe('NacosLogin', () => {
  it('Nacos 3: logs in on /nacos/v3/auth/user/login with the username in the query and the password in the form', async () => {
    const s = await nacos({ v3Login: true, v1Api: false });
    const login = new NacosLogin({ servers: [s.address], username: USER, password: PASSWORD, timeoutMs: 2000 });
    const token = await login.token();
    expect(() => s.state.checkToken(token)).not.toThrow();
    expect(loginPaths(s)).toEqual(['/nacos/v3/auth/user/login 200']);
    const req = s.requests[0]!;
    expect(req.params).toMatchObject({ username: USER, password: PASSWORD });
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('Nacos 2: falls back to /nacos/v1/auth/users/login when the v3 path answers 404', async () => {
    const s = await nacos({});
    const token = await new NacosLogin({ servers: [s.address], username: USER, password: PASSWORD, timeoutMs: 2000 }).token();
    expect(() => s.state.checkToken(token)).not.toThrow();
    expect(loginPaths(s)).toEqual(['/nacos/v3/auth/user/login 404', '/nacos/v1/auth/users/login 200']);
  });

  it('keeps the token until 90% of tokenTtl, then logs in again; invalidate() forces a new login; concurrent callers share one login', async () => {
    const s = await nacos({ v3Login: true, tokenTtlSeconds: 100 });
    let now = 1_000_000;
    const login = new NacosLogin({ servers: [s.address], username: USER, password: PASSWORD, timeoutMs: 2000, now: () => now });
    const [a, b, c] = await Promise.all([login.token(), login.token(), login.token()]);
    expect(new Set([a, b, c]).size).toBe(1);
    expect(loginPaths(s)).toHaveLength(1);
    now += 89_000;
    expect(await login.token()).toBe(a);
    now += 2_000;
    const renewed = await login.token();
    expect(renewed).not.toBe(a);
    login.invalidate(renewed);
    const third = await login.token();
    expect(third).not.toBe(renewed);
    expect(loginPaths(s)).toHaveLength(3);
  });

  it('tries the next server when one cannot be reached; a refusal names the status and no credential', async () => {
    const down = await nacos({});
    const up = await nacos({ v3Login: true });
    await down.stop();
    const token = await new NacosLogin({ servers: [down.address, up.address], username: USER, password: PASSWORD, timeoutMs: 2000 }).token();
    expect(() => up.state.checkToken(token)).not.toThrow();

    const bad = new NacosLogin({ servers: [up.address], username: USER, password: 'wrong-pw-3', timeoutMs: 2000 });
    const err = await bad.token().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NacosLoginError);
    expect((err as NacosLoginError).status).toBe(403);
    expect((err as Error).message).toMatch(/403 unknown user!/);
    expect((err as Error).message).not.toMatch(/wrong-pw-3|login-user-8f/);

    const none = await new NacosLogin({ servers: [down.address], username: USER, password: PASSWORD, timeoutMs: 2000 }).token().catch((e: unknown) => e);
    expect((none as Error).message).toMatch(/reached no Nacos server \(ECONNREFUSED\)/);
  });

  it('with TLS files: over https, verified with the CA; a server it cannot verify gets no password', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dyeline-login-tls-'));
    const front = await TlsTerminator.start((await nacos({ v3Login: true })).address, tlsSet(join(dir, 'certs')));
    const quiet = pino({ level: 'silent' });
    const trusted = new NacosTlsFiles({ caFile: join(dir, 'certs', 'ca.crt') }, quiet);
    const untrusted = new NacosTlsFiles({}, quiet);
    try {
      const token = await new NacosLogin({ servers: [front.endpoint], username: USER, password: PASSWORD, timeoutMs: 2000, tls: trusted }).token();
      expect(token).toBeTruthy();
      const err = await new NacosLogin({ servers: [front.endpoint], username: USER, password: PASSWORD, timeoutMs: 2000, tls: untrusted }).token().catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/reached no Nacos server \(.*certificate/);
      expect(servers[0]!.requests.filter((r) => r.path.endsWith('/login'))).toHaveLength(1);
    } finally {
      trusted.close();
      untrusted.close();
      await front.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
