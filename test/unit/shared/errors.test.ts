/** The error catalogue and its one classifier (shared/errors.ts). */
import { describe, expect, it } from 'vitest';
import { type FailureKind, RetryPolicy } from '../../../agent/resilience/retry.ts';
import { ServiceSpec } from '../../../shared/schema/documents.ts';
import { asDyelineError, classify, ClientClosedError, DroppedAnswerError, DyelineError, ERRORS, ErrorCode, FailureClass, noInstanceError } from '../../../shared/errors.ts';

const withCode = (code: unknown) => Object.assign(new Error(String(code)), { code });

describe('error catalogue', () => {
  it('has a status, an x-dyeline-error value and a failure class for every code', () => {
    for (const code of Object.values(ErrorCode)) {
      const s = ERRORS[code];
      expect(s, code).toBeDefined();
      expect(s.status).toBeGreaterThanOrEqual(400);
      expect(s.header).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(Object.values(FailureClass)).toContain(s.failure);
    }
  });

  it('says how far a failed try got: connect failures never reached the upstream', () => {
    expect(ERRORS[ErrorCode.Connect].failure).toBe(FailureClass.NeverReached);
    expect(ERRORS[ErrorCode.Reset].failure).toBe(FailureClass.MaybeReached);
    expect(ERRORS[ErrorCode.DroppedAnswer].failure).toBe(FailureClass.MaybeReached);
    expect(ERRORS[ErrorCode.Timeout].failure).toBe(FailureClass.Timeout);
    for (const code of [ErrorCode.NoInstance, ErrorCode.Loop, ErrorCode.BadRequest, ErrorCode.HeadersTooLarge, ErrorCode.Draining, ErrorCode.ClientClosed]) {
      expect(ERRORS[code].failure, code).toBe(FailureClass.None);
    }
    expect(ERRORS[ErrorCode.ClientClosed]).toMatchObject({ status: 499, header: 'client-closed' });
    expect(ERRORS[ErrorCode.DroppedAnswer]).toMatchObject({ status: 502, header: 'upstream-reset' });
    expect([ErrorCode.BadRequest, ErrorCode.HeadersTooLarge, ErrorCode.Loop].map((c) => ERRORS[c].close)).toEqual([true, true, true]);
    expect(ERRORS[ErrorCode.Connect].close).toBe(false);
  });
});

describe('classify', () => {
  it('maps Node and undici codes to the catalogue; anything else broke the exchange', () => {
    for (const c of ['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']) {
      expect(classify(withCode(c)), c).toBe(ErrorCode.Connect);
    }
    for (const c of ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) expect(classify(withCode(c)), c).toBe(ErrorCode.Timeout);
    for (const c of ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED', '', 'constructor', 42, undefined]) expect(classify(withCode(c)), String(c)).toBe(ErrorCode.Reset);
    expect(classify(null)).toBe(ErrorCode.Reset);
    expect(classify('boom')).toBe(ErrorCode.Reset);
  });

  it('ETIMEDOUT and ECONNABORTED may come from a connection already carrying the request: maybe reached, so a POST is never sent again', () => {
    const policy = new RetryPolicy(ServiceSpec.parse({ retry: { on: ['connect-failure', 'reset', 'timeout', '5xx'] } }));
    for (const c of ['ETIMEDOUT', 'ECONNABORTED']) {
      const failure = ERRORS[classify(withCode(c))].failure;
      expect({ c, failure }).toEqual({ c, failure: FailureClass.MaybeReached });
      expect(policy.retries(failure as FailureKind, 0, 'POST')).toBe(false);
      expect(policy.retries(failure as FailureKind, 0, 'GET')).toBe(true);
    }
  });

  it('keeps the codes of dyeline errors, the client-closed and dropped-answer ones included', () => {
    expect(classify(new DyelineError(ErrorCode.Loop, 'x'))).toBe(ErrorCode.Loop);
    expect(classify(new ClientClosedError('gone'))).toBe(ErrorCode.ClientClosed);
    const dropped = new DroppedAnswerError('10.0.0.1:80', 503);
    expect(classify(dropped)).toBe(ErrorCode.DroppedAnswer);
    expect(dropped).toMatchObject({ status: 503, message: '10.0.0.1:80 broke the exchange: answer 503 dropped for a retry' });
    expect(noInstanceError('orders', 'canary')).toMatchObject({ code: ErrorCode.NoInstance, message: 'no instance of orders can serve lane "canary"' });
  });

  it('asDyelineError names the peer and keeps the cause', () => {
    const cause = withCode('UND_ERR_HEADERS_TIMEOUT');
    const e = asDyelineError(cause, 'orders');
    expect(e).toMatchObject({ code: ErrorCode.Timeout, message: `orders did not answer in time: ${cause.message}` });
    expect(e.cause).toBe(cause);
    expect(asDyelineError(withCode('ECONNRESET'), '10.0.0.1:80').message).toBe('10.0.0.1:80 broke the exchange: ECONNRESET');
  });
});
