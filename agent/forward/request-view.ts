/**
 * The RequestView (agent/routing/types.ts) over an incoming request, for dye rules and split
 * stickiness. Routing reads it synchronously, so each listener keeps one view and points it at
 * the request being routed (`reset`): no allocation per request; cookies and query parameters
 * are only looked at when a rule asks for them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { cookieValue, queryValue } from '../propagation/carriers.ts';
import type { RequestView } from '../routing/types.ts';

const EMPTY: IncomingHttpHeaders = {};

/** A reusable RequestView; valid until the next `reset`. */
export class ReusableRequestView implements RequestView {
  #headers: IncomingHttpHeaders = EMPTY;
  #url = '';

  /** Points the view at a request's headers and target (origin- or absolute-form). */
  reset(headers: IncomingHttpHeaders, url: string): this {
    this.#headers = headers;
    this.#url = url;
    return this;
  }

  header(name: string): string | undefined {
    const v = this.#headers[name];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  cookie(name: string): string | undefined {
    const c = this.#headers.cookie;
    return c === undefined ? undefined : cookieValue(c, name);
  }

  query(name: string): string | undefined {
    const raw = queryValue(this.#url, name);
    if (raw === undefined || !(raw.includes('%') || raw.includes('+'))) return raw;
    try {
      return decodeURIComponent(raw.replaceAll('+', ' '));
    } catch {
      return raw;
    }
  }
}
