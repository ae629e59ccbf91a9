import { describe, expect, it } from 'vitest';
import { errorAnswer } from '../../../../agent/forward/respond.ts';
import { asDyelineError, DyelineError, ErrorCode } from '../../../../shared/errors.ts';

describe('errorAnswer', () => {
  it('maps each data-plane error to the contract status, header and JSON body', () => {
    const cases: [string, number, string][] = [
      [ErrorCode.Connect, 502, 'connect-failure'],
      [ErrorCode.Reset, 502, 'upstream-reset'],
      [ErrorCode.NoInstance, 503, 'no-instance'],
      [ErrorCode.Timeout, 504, 'timeout'],
      [ErrorCode.BadRequest, 400, 'bad-request'],
      [ErrorCode.HeadersTooLarge, 431, 'headers-too-large'],
      [ErrorCode.Loop, 508, 'loop-detected'],
    ];
    for (const [code, status, header] of cases) {
      const a = errorAnswer(new DyelineError(code as ErrorCode, 'why'));
      expect(a.status).toBe(status);
      expect(a.header).toBe(header);
      expect(JSON.parse(a.body)).toEqual({ error: header, message: 'why' });
    }
    expect(errorAnswer(new DyelineError(ErrorCode.Schema, 'x')).status).toBe(500);
  });
});

describe('asDyelineError', () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  it('classifies connect failures, timeouts and resets', () => {
    for (const c of ['ECONNREFUSED', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH']) expect(asDyelineError(withCode(c), 'u').code).toBe(ErrorCode.Connect);
    for (const c of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) expect(asDyelineError(withCode(c), 'u').code).toBe(ErrorCode.Timeout);
    for (const c of ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', '']) expect(asDyelineError(withCode(c), 'u').code).toBe(ErrorCode.Reset);
    const own = new DyelineError(ErrorCode.Loop, 'x');
    expect(asDyelineError(own, 'u')).toBe(own);
    expect(asDyelineError(withCode('ECONNREFUSED'), '10.0.0.1:80').message).toContain('10.0.0.1:80');
  });
});
