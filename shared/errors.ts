/**
 * One place for every failure dyeline knows about. Each error carries a stable `code`
 * (like undici's `UND_ERR_*`), keeps its `cause`, and — for errors the agent answers with —
 * the HTTP status and the `x-dyeline-error` value of the contract (§5).
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
  // Data-plane errors: each maps to a status and an `x-dyeline-error` value.
  Connect: 'DYE_ERR_CONNECT',
  Reset: 'DYE_ERR_RESET',
  NoInstance: 'DYE_ERR_NO_INSTANCE',
  Timeout: 'DYE_ERR_TIMEOUT',
  BadRequest: 'DYE_ERR_BAD_REQUEST',
  HeadersTooLarge: 'DYE_ERR_HEADERS_TOO_LARGE',
  Loop: 'DYE_ERR_LOOP',
  Draining: 'DYE_ERR_DRAINING',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** How a data-plane error is answered: HTTP status and the `x-dyeline-error` header value. */
export const errorResponse: Readonly<Partial<Record<ErrorCode, { status: number; header: string }>>> = {
  [ErrorCode.Connect]: { status: 502, header: 'connect-failure' },
  [ErrorCode.Reset]: { status: 502, header: 'upstream-reset' },
  [ErrorCode.NoInstance]: { status: 503, header: 'no-instance' },
  [ErrorCode.Draining]: { status: 503, header: 'draining' },
  [ErrorCode.Timeout]: { status: 504, header: 'timeout' },
  [ErrorCode.BadRequest]: { status: 400, header: 'bad-request' },
  [ErrorCode.HeadersTooLarge]: { status: 431, header: 'headers-too-large' },
  [ErrorCode.Loop]: { status: 508, header: 'loop-detected' },
};

/** The base of every error dyeline throws on purpose. */
export class DyelineError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DyelineError';
    this.code = code;
  }
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
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** A bad command-line flag or value: the CLI prints the message on one line and exits 2. */
export class UsageError extends DyelineError {
  constructor(message: string) {
    super(ErrorCode.Usage, message);
    this.name = 'UsageError';
  }
}

/** Message of anything thrown, for logs and status pages. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
