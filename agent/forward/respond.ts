/**
 * The one place that turns a failure into the answer the agent gives (docs/reference.md#routing):
 * the status of the error catalogue (shared/errors.ts), `x-dyeline-error: <code>` and a JSON body
 * `{"error":"<code>","message":"..."}`, on a ServerResponse or as raw bytes on a socket.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { type DyelineError, ERRORS } from '../../shared/errors.ts';

/** Header naming an agent-made error. */
export const ERROR_HEADER = 'x-dyeline-error';

/** Status, `x-dyeline-error` value and body of an agent-made error. */
export function errorAnswer(err: DyelineError): { status: number; header: string; body: string } {
  const r = ERRORS[err.code];
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
  if (ERRORS[err.code].close) headers.connection = 'close';
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
