/**
 * The access token a Nacos with auth enabled wants on every gRPC request (docs/nacos-grpc.md#login):
 * obtained over HTTP from the server port — `POST /nacos/v3/auth/user/login` (Nacos 3), falling back
 * to `/nacos/v1/auth/users/login` when that path is unknown (404/501, Nacos 2) — with the username
 * in the query and the password in the form body, as Nacos's Java client sends them. The token is
 * renewed once 90% of its `tokenTtl` has passed, and at once after Nacos refuses it (invalidate()).
 * With `tls=true` the login goes over https like every other connection of the source: the
 * password never travels in clear (docs/reference.md#nacos-over-grpc).
 */
import { DyelineError, ErrorCode } from '../../../shared/errors.ts';
import { failureReason, nacosHttpCall } from './http-call.ts';
import type { NacosTlsFiles } from './tls.ts';

/** Where and as whom to log in. */
export interface LoginOptions {
  /** HTTP `host:port` of each Nacos server. */
  servers: readonly string[];
  username: string;
  password: string;
  /** Budget of one login call (ms). */
  timeoutMs: number;
  /** `tls=true`: https with these files. */
  tls?: NacosTlsFiles;
  /** Clock, for tests. */
  now?: () => number;
}

/** A login Nacos refused or that reached no server; the message carries no credential. */
export class NacosLoginError extends DyelineError {
  /** HTTP status when a server answered. */
  readonly status: number | undefined;
  constructor(message: string, status?: number, cause?: unknown) {
    super(ErrorCode.Source, message, { cause });
    this.name = 'NacosLoginError';
    this.status = status;
  }
}

const V3_PATH = '/nacos/v3/auth/user/login';
const V1_PATH = '/nacos/v1/auth/users/login';

/** Holds the current token; one login at a time. */
export class NacosLogin {
  readonly #o: LoginOptions;
  readonly #now: () => number;
  #token: string | undefined;
  /** When the token must be renewed (ms epoch). */
  #renewAt = 0;
  #pending: Promise<string> | undefined;
  #next = 0;

  constructor(o: LoginOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
  }

  /** A valid token, logging in when there is none or it is due for renewal. */
  token(): Promise<string> {
    if (this.#token !== undefined && this.#now() < this.#renewAt) return Promise.resolve(this.#token);
    this.#pending ??= this.#login().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  /** Nacos refused `token`: the next token() logs in again. */
  invalidate(token: string): void {
    if (this.#token === token) this.#token = undefined;
  }

  async #login(): Promise<string> {
    const servers = this.#o.servers;
    let lastErr: unknown;
    // Each server in turn, starting after the last one used; a server that answers decides.
    for (let i = 0; i < servers.length; i++) {
      const server = servers[(this.#next + i) % servers.length]!;
      let answer: { status: number; text: string };
      try {
        answer = await this.#post(server, V3_PATH);
        if (answer.status === 404 || answer.status === 501) answer = await this.#post(server, V1_PATH);
      } catch (err) {
        lastErr = err;
        continue;
      }
      this.#next = (this.#next + i) % servers.length;
      if (answer.status !== 200) throw new NacosLoginError(`login at ${server} refused: ${answer.status} ${answer.text.trim().slice(0, 200)}`, answer.status);
      let body: { accessToken?: unknown; tokenTtl?: unknown };
      try {
        body = JSON.parse(answer.text) as typeof body;
      } catch {
        throw new NacosLoginError(`login at ${server}: answer is not JSON`, answer.status);
      }
      if (typeof body.accessToken !== 'string' || !body.accessToken) throw new NacosLoginError(`login at ${server}: no accessToken in the answer`, answer.status);
      const ttlS = Number(body.tokenTtl);
      this.#token = body.accessToken;
      this.#renewAt = this.#now() + (Number.isFinite(ttlS) && ttlS > 0 ? ttlS * 900 : 60_000);
      return body.accessToken;
    }
    const why = failureReason(lastErr);
    throw new NacosLoginError(`login reached no Nacos server (${why})`, undefined, lastErr);
  }

  async #post(server: string, path: string): Promise<{ status: number; text: string }> {
    const tls = await this.#o.tls?.material();
    return nacosHttpCall(server, `${path}?${new URLSearchParams({ username: this.#o.username })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ password: this.#o.password }).toString(),
      timeoutMs: this.#o.timeoutMs,
      tls,
    });
  }
}
