import { describe, expect, it } from 'vitest';
import { REDACT_PATHS, requestLogger } from '../../../shared/log.ts';
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

describe('request logger (access lines)', () => {
  it('writes to the same destination with the same bindings, level, time and level label, and no redacted path among its fields', () => {
    const { log, lines } = memoryLog({ component: 'agent', service: 'orders', lane: 'canary' }, 'warn');
    const access = requestLogger(log);
    access.info({ direction: 'outbound', method: 'GET', path: '/a' }, 'request');
    expect(lines).toEqual([]);
    access.warn({ direction: 'outbound', method: 'GET', path: '/a', status: 200, trace_id: 't', span_id: 's', ms: 1.5 }, 'request');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', pid: process.pid, component: 'agent', service: 'orders', lane: 'canary', direction: 'outbound', path: '/a', status: 200, msg: 'request' });
    expect(String(lines[0]!.time)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const accessFields = ['direction', 'method', 'path', 'upstream', 'endpoint', 'status', 'error', 'color', 'served_color', 'fallback', 'trace_id', 'span_id', 'ms'];
    for (const f of accessFields) expect(REDACT_PATHS.some((p) => p === f || p.startsWith(`${f}.`) || p.startsWith(`${f}[`))).toBe(false);
  });
});
