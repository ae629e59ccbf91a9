/**
 * The error catalogue: every failure dyeline knows, by stable code (like undici's `UND_ERR_*`,
 * fastify's `FST_ERR_*`), each with the HTTP status and `x-dyeline-error` value the agent
 * answers with (docs/reference.md#routing) and how far a failed try got (its failure class,
 * which decides whether it may be sent again: docs/resilience.md). `classify` is the one place
 * a low-level error (Node, undici) becomes a code of the catalogue.
 */

/** Stable error codes. Never rename one: operators alert on them. */
export const ErrorCode = {
  /** A rule document or snapshot failed the schema. */
  Schema: 'DYE_ERR_SCHEMA',
  /** A rule document could not be parsed as YAML/JSON. */
  Parse: 'DYE_ERR_PARSE',
  /** A document is valid alone but conflicts with others (unknown lane in a split, ...). */
  CrossCheck: 'DYE_ERR_CROSS_CHECK',
  /** The snapshot file's checksum does not match its content (truncated or edited). */
  SnapshotChecksum: 'DYE_ERR_SNAPSHOT_CHECKSUM',
  /** The snapshot file could not be read. */
  SnapshotRead: 'DYE_ERR_SNAPSHOT_READ',
  /** A source URI or flag is malformed. */
  Usage: 'DYE_ERR_USAGE',
  /** A config source failed (connection, auth, protocol). */
  Source: 'DYE_ERR_SOURCE',
  /** Metrics could not be analysed: Prometheus unreachable, a query refused or answered oddly. */
  Analysis: 'DYE_ERR_ANALYSIS',
  // Data-plane errors: each is answered with its status and `x-dyeline-error` value.
  /** The connection to the upstream could not be opened: the request never left the agent. */
  Connect: 'DYE_ERR_CONNECT',
  /** The exchange broke (reset, closed, protocol error) after the request may have reached the upstream. */
  Reset: 'DYE_ERR_RESET',
  /** No instance can serve the request's lane or its fallbacks. */
  NoInstance: 'DYE_ERR_NO_INSTANCE',
  /** The upstream did not answer within the try's timeout or the request's deadline. */
  Timeout: 'DYE_ERR_TIMEOUT',
  BadRequest: 'DYE_ERR_BAD_REQUEST',
  HeadersTooLarge: 'DYE_ERR_HEADERS_TOO_LARGE',
  /** The request went through more agent hops than --max-hops (the loop guard). */
  Loop: 'DYE_ERR_LOOP',
  /** The agent is shutting down. */
  Draining: 'DYE_ERR_DRAINING',
  /** The client went away before the answer: the upstream side is aborted. */
  ClientClosed: 'DYE_CLIENT_CLOSED',
  /** An upstream answer dropped so that the request is retried (a retriable status). */
  DroppedAnswer: 'DYE_DROPPED_ANSWER',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** How far a failed try got, which decides whether it may be sent again (agent/resilience/retry.ts). */
export const FailureClass = {
  /** Not a failure of the upstream (refused by the agent, client gone): nothing to retry. */
  None: 0,
  /** The request never reached the upstream: any method may be sent again. */
  NeverReached: 1,
  /** The request may have reached the upstream: only idempotent methods are sent again. */
  MaybeReached: 2,
  /** The request reached the upstream, which did not answer in time: idempotent methods only. */
  Timeout: 3,
} as const;
export type FailureClass = (typeof FailureClass)[keyof typeof FailureClass];

/** What the catalogue says about one code. */
export interface ErrorSpec {
  /** HTTP status of the agent's answer. */
  readonly status: number;
  /** `x-dyeline-error` value (and `error` of the JSON body, and the span's `error.type`). */
  readonly header: string;
  readonly failure: FailureClass;
  /** The answer closes the client connection (what follows on it cannot be trusted). */
  readonly close: boolean;
}

function spec(status: number, header: string, failure: FailureClass, close = false): ErrorSpec {
  return Object.freeze({ status, header, failure, close });
}

/**
 * Codes the agent never answers with (config and snapshot errors): should one end an exchange,
 * it is answered as an internal error and counts as a broken exchange.
 */
const INTERNAL = spec(500, 'internal', FailureClass.MaybeReached);

/** The catalogue. */
export const ERRORS: Readonly<Record<ErrorCode, ErrorSpec>> = {
  [ErrorCode.Schema]: INTERNAL,
  [ErrorCode.Parse]: INTERNAL,
  [ErrorCode.CrossCheck]: INTERNAL,
  [ErrorCode.SnapshotChecksum]: INTERNAL,
  [ErrorCode.SnapshotRead]: INTERNAL,
  [ErrorCode.Usage]: INTERNAL,
  [ErrorCode.Source]: INTERNAL,
  [ErrorCode.Analysis]: INTERNAL,
  [ErrorCode.Connect]: spec(502, 'connect-failure', FailureClass.NeverReached),
  [ErrorCode.Reset]: spec(502, 'upstream-reset', FailureClass.MaybeReached),
  [ErrorCode.NoInstance]: spec(503, 'no-instance', FailureClass.None),
  [ErrorCode.Draining]: spec(503, 'draining', FailureClass.None),
  [ErrorCode.Timeout]: spec(504, 'timeout', FailureClass.Timeout),
  [ErrorCode.BadRequest]: spec(400, 'bad-request', FailureClass.None, true),
  [ErrorCode.HeadersTooLarge]: spec(431, 'headers-too-large', FailureClass.None, true),
  [ErrorCode.Loop]: spec(508, 'loop-detected', FailureClass.None, true),
  [ErrorCode.ClientClosed]: spec(499, 'client-closed', FailureClass.None),
  [ErrorCode.DroppedAnswer]: spec(502, 'upstream-reset', FailureClass.MaybeReached),
};

/** Low-level codes (Node, undici) and the catalogue code each one is; any other code is a Reset. */
const LOW_LEVEL: ReadonlyMap<string, ErrorCode> = new Map<string, ErrorCode>([
  ['ECONNREFUSED', ErrorCode.Connect],
  ['EHOSTUNREACH', ErrorCode.Connect],
  ['ENETUNREACH', ErrorCode.Connect],
  ['ENOTFOUND', ErrorCode.Connect],
  ['EAI_AGAIN', ErrorCode.Connect],
  ['EADDRNOTAVAIL', ErrorCode.Connect],
  ['UND_ERR_CONNECT_TIMEOUT', ErrorCode.Connect],
  // ETIMEDOUT and ECONNABORTED are not here: they also end connections that already carried the
  // request (TCP retransmission or keepalive timeouts), so they are Resets (maybe reached).
  // undici reports a connect that timed out as UND_ERR_CONNECT_TIMEOUT.
  ['UND_ERR_HEADERS_TIMEOUT', ErrorCode.Timeout],
  ['UND_ERR_BODY_TIMEOUT', ErrorCode.Timeout],
]);

/** The base of every error dyeline throws on purpose; `name` is the class name. */
export class DyelineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The client went away: aborts the upstream side of its exchange. */
export class ClientClosedError extends DyelineError {
  constructor(message: string) {
    super(ErrorCode.ClientClosed, message);
  }
}

/** Aborts a try whose answer is dropped so that the request is retried. */
export class DroppedAnswerError extends DyelineError {
  /** The status of the dropped answer. */
  readonly status: number;
  constructor(peer: string, status: number) {
    super(ErrorCode.DroppedAnswer, `${peer} broke the exchange: answer ${status} dropped for a retry`);
    this.status = status;
  }
}

/**
 * The catalogue code of any error: a DyelineError's own code; a low-level error by its `code`
 * (connect failures → Connect, undici's header/body timeouts → Timeout); anything else broke the
 * exchange → Reset.
 */
export function classify(err: unknown): ErrorCode {
  if (err instanceof DyelineError) return err.code;
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return (typeof code === 'string' ? LOW_LEVEL.get(code) : undefined) ?? ErrorCode.Reset;
}

/**
 * A failure talking to `peer` (a host:port, the app, a service: for the message) as the error
 * the agent answers with. DyelineErrors pass through; others are classified, the cause kept.
 */
export function asDyelineError(err: unknown, peer: string): DyelineError {
  if (err instanceof DyelineError) return err;
  const code = classify(err);
  const why = errorMessage(err);
  const message =
    code === ErrorCode.Connect ? `cannot connect to ${peer}: ${why}` : code === ErrorCode.Timeout ? `${peer} did not answer in time: ${why}` : `${peer} broke the exchange: ${why}`;
  return new DyelineError(code, message, { cause: err });
}

/** The answer to a request for which no instance of `service` can serve `lane`. */
export function noInstanceError(service: string, lane: string): DyelineError {
  return new DyelineError(ErrorCode.NoInstance, `no instance of ${service} can serve lane "${lane}"`);
}

/** One problem found in a document: where (`path`, dotted) and why. */
export interface Issue {
  path: string;
  message: string;
}

/** Issues on one line: `path: message; path: message` (an issue of the whole document has no path). */
export function describeIssues(issues: readonly Issue[]): string {
  return issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
}

/** A document (or snapshot) that failed validation; `issues` names each field path. */
export class ValidationError extends DyelineError {
  readonly issues: readonly Issue[];
  constructor(code: ErrorCode, issues: readonly Issue[], options?: { cause?: unknown }) {
    super(code, describeIssues(issues), options);
    this.issues = issues;
  }
}

/** A bad command-line flag or value: the CLI prints the message on one line and exits 2. */
export class UsageError extends DyelineError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
  }
}

/** Message of anything thrown, for logs and status pages. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
