import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../../../shared/log.ts';
import { memoryLog } from '../../support/memory-log.ts';

describe('log redaction', () => {
  it('censors credentials, authorization, cookie and proxy-authorization wherever the code puts them', () => {
    const { log, lines } = memoryLog();
    log.info(
      {
        password: 'pw1',
        token: 'tk1',
        credentials: { user: 'u', pass: 'p' },
        authorization: 'Bearer a1',
        'proxy-authorization': 'Basic p1',
        headers: { authorization: 'Bearer a2', cookie: 'sid=c1', 'proxy-authorization': 'Basic p2', 'set-cookie': 'sid=c2', host: 'orders' },
        req: { headers: { authorization: 'Bearer a3', cookie: 'sid=c3' } },
        source: { uri: 'etcd://h:2379', username: 'root', password: 'pw2' },
        auth: { token: 'tk2' },
      },
      'something happened',
    );
    const text = JSON.stringify(lines);
    for (const secret of ['pw1', 'pw2', 'tk1', 'tk2', 'Bearer', 'Basic', 'sid=', '"user"', 'root']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ headers: { host: 'orders', cookie: '[redacted]' }, source: { uri: 'etcd://h:2379' }, credentials: '[redacted]' });
  });

  it('uses explicit paths only (a wildcard costs every log line a walk over all keys)', () => {
    expect(REDACT_PATHS.filter((p) => p.includes('*'))).toEqual([]);
  });
});

describe('log time stamps', () => {
  it('are ISO times of the current millisecond', () => {
    const { log, lines } = memoryLog();
    const before = Date.now();
    log.info('a');
    log.info('b');
    const after = Date.now();
    for (const l of lines) {
      const t = Date.parse(String(l.time));
      expect(String(l.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after);
    }
  });
});
