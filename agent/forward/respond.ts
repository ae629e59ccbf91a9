/**
 * The one place that turns a failure into the answer the agent gives (contract §5): status
 * from shared/errors.ts errorResponse, `x-dyeline-error: <code>` and a JSON body
 * `{"error":"<code>","message":"..."}`. Used for responses on a ServerResponse and for raw
 * answers on a socket (client errors, CONNECT failures).
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { DyelineError, ErrorCode, errorResponse } from '../../shared/errors.ts';

/** Header naming an agent-made error. */
export const ERROR_HEADER = 'x-dyeline-error';

const INTERNAL = { status: 500, header: 'internal' };

/** Status, `x-dyeline-error` value and body of an agent-made error. */
export function errorAnswer(err: DyelineError): { status: number; header: string; body: string } {
  const r = errorResponse[err.code] ?? INTERNAL;
  return { status: r.status, header: r.header, body: `${JSON.stringify({ error: r.header, message: err.message })}\n` };
}

/**
 * Answers `err` on `res`. When the response has already started, the answer cannot change:
 * the response is cut (the client sees a reset or a truncated body), as a proxy must.
 */
export function respondError(res: ServerResponse, err: DyelineError, extra?: Record<string, string>): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const a = errorAnswer(err);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(a.body),
    [ERROR_HEADER]: a.header,
    ...extra,
  };
  if (err.code === ErrorCode.BadRequest || err.code === ErrorCode.HeadersTooLarge || err.code === ErrorCode.Loop) headers.connection = 'close';
  res.writeHead(a.status, headers);
  res.end(a.body);
}

/** Writes `err` as a complete HTTP/1.1 response on a raw socket and closes it. */
export function writeSocketError(socket: Duplex, err: DyelineError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const a = errorAnswer(err);
  socket.end(
    `HTTP/1.1 ${a.status} ${statusText(a.status)}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(a.body)}\r\n${ERROR_HEADER}: ${a.header}\r\nconnection: close\r\n\r\n${a.body}`,
  );
}

function statusText(status: number): string {
  switch (status) {
    case 400: return 'Bad Request';
    case 431: return 'Request Header Fields Too Large';
    case 502: return 'Bad Gateway';
    case 503: return 'Service Unavailable';
    case 504: return 'Gateway Timeout';
    case 508: return 'Loop Detected';
    default: return 'Error';
  }
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'ECONNABORTED']);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/**
 * Classifies a failure talking to an upstream: connect failures (refused, unreachable, DNS,
 * connect timeout) → Connect (502), header/body timeouts → Timeout (504), anything else that
 * broke the exchange (reset, closed, protocol) → Reset (502). DyelineErrors pass through.
 */
export function upstreamError(err: unknown, upstream: string): DyelineError {
  if (err instanceof DyelineError) return err;
  const code = (err as { code?: string } | undefined)?.code ?? '';
  const why = err instanceof Error ? err.message : String(err);
  if (CONNECT_CODES.has(code)) return new DyelineError(ErrorCode.Connect, `cannot connect to ${upstream}: ${why}`, { cause: err });
  if (TIMEOUT_CODES.has(code)) return new DyelineError(ErrorCode.Timeout, `${upstream} did not answer in time: ${why}`, { cause: err });
  return new DyelineError(ErrorCode.Reset, `${upstream} broke the exchange: ${why}`, { cause: err });
}
