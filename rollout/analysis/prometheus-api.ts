/**
 * The slice of Prometheus's HTTP API the analysis uses: instant queries answering a vector
 * (docs/reference.md#progressive-delivery). Every failure — unreachable, timed out, a refused
 * query, an answer of another shape — is one DyelineError with code DYE_ERR_ANALYSIS, so callers
 * treat them all as "could not analyse".
 */
import { DyelineError, ErrorCode, errorMessage } from '../../shared/errors.ts';

/** One sample of an instant vector. */
export interface VectorSample {
  readonly labels: Readonly<Record<string, string>>;
  /** The value as Prometheus gives it (NaN and ±Inf included). */
  readonly value: number;
}

interface QueryAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; value?: [number, string] }[] };
}

/** A Prometheus server at `url` (e.g. `http://prometheus:9090`, a path prefix allowed). */
export class PrometheusApi {
  readonly url: string;
  readonly #timeoutMs: number;

  /** @param timeoutMs per query, connection included. Default 5000. */
  constructor(url: string, opts: { timeoutMs?: number } = {}) {
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = opts.timeoutMs ?? 5000;
  }

  /** Runs `promql` as an instant query; resolves with its vector. */
  async vector(promql: string): Promise<VectorSample[]> {
    let res: Response;
    let body: QueryAnswer;
    try {
      res = await fetch(`${this.url}/api/v1/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query: promql }).toString(),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      body = (await res.json()) as QueryAnswer;
    } catch (err) {
      throw new DyelineError(ErrorCode.Analysis, `Prometheus at ${this.url} did not answer: ${errorMessage(err)}`, { cause: err });
    }
    if (body.status !== 'success') {
      throw new DyelineError(ErrorCode.Analysis, `Prometheus refused a query (${res.status} ${body.errorType ?? ''}): ${body.error ?? 'no error given'}; query: ${promql}`);
    }
    const data = body.data;
    if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
      throw new DyelineError(ErrorCode.Analysis, `Prometheus answered a ${data?.resultType ?? 'missing'} result where a vector was expected; query: ${promql}`);
    }
    return data.result.map((r) => ({ labels: r.metric ?? {}, value: Number(r.value?.[1]) }));
  }
}
