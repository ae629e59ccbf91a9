/**
 * dyeline/propagate — zero-code colour and trace propagation for Node apps
 * (docs/reference.md#zero-code-propagation). Started with `node --import <this file>`, it carries
 * `x-traffic-color`, `baggage`, `traceparent` and `tracestate` from the inbound HTTP request being
 * handled to every outbound HTTP call made while handling it: `http`/`https`, global `fetch` and
 * the `undici` package. It only listens on Node's diagnostics channels and keeps the request's
 * headers in an AsyncLocalStorage; it never overwrites a header the app (or OpenTelemetry) set,
 * and any error of its own leaves the request as the app made it.
 *
 * One self-contained file with no dependencies: `dyeline inject` copies it into app containers.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

/** The propagation headers of one inbound request (undefined: absent). */
class Carried {
  /** @param {import('node:http').IncomingHttpHeaders} headers */
  constructor(headers) {
    this.color = headers['x-traffic-color'];
    this.baggage = headers.baggage;
    this.traceparent = headers.traceparent;
    this.tracestate = headers.tracestate;
  }
}

/** @type {AsyncLocalStorage<Carried | undefined>} */
const current = new AsyncLocalStorage();
const apply = Reflect.apply;

/**
 * `http.server.request.start`: the request's headers become the context of its handler (the
 * 'request' event is emitted right after, in the same synchronous run). Body events arrive in
 * later parser callbacks, outside that run, so a request with a body also has its events emitted
 * in its context.
 * @param {any} message untrusted: whatever was published on the channel
 */
function onInboundRequest(message) {
  try {
    reorderUndici();
    const request = message.request;
    const h = request.headers;
    if (h['x-traffic-color'] === undefined && h.baggage === undefined && h.traceparent === undefined && h.tracestate === undefined) {
      current.enterWith(undefined);
      return;
    }
    const carried = new Carried(h);
    current.enterWith(carried);
    if ((h['content-length'] !== undefined && h['content-length'] !== '0') || h['transfer-encoding'] !== undefined) {
      const emit = request.emit;
      /** @this {unknown} @param {unknown[]} args */
      request.emit = function emitInRequestContext(...args) {
        return current.run(carried, apply, emit, this, args);
      };
    }
  } catch {
    // Propagation is best effort: the app's request is never affected.
  }
}

/**
 * `http.client.request.created`: the ClientRequest exists and its headers are not sent yet.
 * Trace context is one unit: it is added only when the app set neither traceparent nor tracestate.
 * @param {any} message
 */
function onHttpRequest(message) {
  const carried = current.getStore();
  if (carried === undefined) return;
  let request;
  const added = [];
  try {
    request = message.request;
    if (request.headersSent || request.method === 'CONNECT') return;
    if (carried.color !== undefined && request.getHeader('x-traffic-color') === undefined) {
      request.setHeader('x-traffic-color', carried.color);
      added.push('x-traffic-color');
    }
    if (carried.baggage !== undefined && request.getHeader('baggage') === undefined) {
      request.setHeader('baggage', carried.baggage);
      added.push('baggage');
    }
    if (carried.traceparent !== undefined && request.getHeader('traceparent') === undefined && request.getHeader('tracestate') === undefined) {
      request.setHeader('traceparent', carried.traceparent);
      added.push('traceparent');
      if (carried.tracestate !== undefined) {
        request.setHeader('tracestate', carried.tracestate);
        added.push('tracestate');
      }
    }
  } catch {
    try {
      for (const name of added) request.removeHeader(name);
    } catch {
      // The request is as far from untouched as Node lets it be.
    }
  }
}

/**
 * Whether undici's header list (a flat [name, value, …] array, or a string in undici 5) has `name`.
 * @param {unknown} headers
 * @param {string} name lower case
 */
function undiciHas(headers, name) {
  if (typeof headers === 'string') return `\n${headers.toLowerCase()}`.includes(`\n${name}:`);
  if (!Array.isArray(headers)) return false;
  for (let i = 0; i < headers.length; i += 2) {
    const key = headers[i];
    if (typeof key === 'string' && key.length === name.length && key.toLowerCase() === name) return true;
  }
  return false;
}

/**
 * `undici:request:create` (global fetch's bundled undici and the undici package alike).
 * @param {any} message
 */
function onUndiciRequest(message) {
  const carried = current.getStore();
  if (carried === undefined) return;
  let request;
  let before;
  try {
    request = message.request;
    if (request.method === 'CONNECT' || typeof request.addHeader !== 'function') return;
    const headers = request.headers;
    before = Array.isArray(headers) ? headers.length : headers;
    if (carried.color !== undefined && !undiciHas(headers, 'x-traffic-color')) request.addHeader('x-traffic-color', carried.color);
    if (carried.baggage !== undefined && !undiciHas(headers, 'baggage')) request.addHeader('baggage', carried.baggage);
    if (carried.traceparent !== undefined && !undiciHas(headers, 'traceparent') && !undiciHas(headers, 'tracestate')) {
      request.addHeader('traceparent', carried.traceparent);
      if (carried.tracestate !== undefined) request.addHeader('tracestate', carried.tracestate);
    }
  } catch {
    try {
      if (typeof before === 'number') request.headers.length = before;
      else if (before !== undefined) request.headers = before;
    } catch {
      // As above: nothing more can be undone.
    }
  }
}

/**
 * Subscribers of one channel run in the order they subscribed. OpenTelemetry's undici
 * instrumentation adds trace headers on the same channel without looking for existing ones, so
 * this subscriber moves behind it once — at the first inbound request, when the app has set up
 * its instrumentation — and then sees OpenTelemetry's headers and leaves them alone.
 */
let reordered = false;
function reorderUndici() {
  if (reordered) return;
  reordered = true;
  unsubscribe('undici:request:create', onUndiciRequest);
  subscribe('undici:request:create', onUndiciRequest);
}

subscribe('http.server.request.start', onInboundRequest);
subscribe('http.client.request.created', onHttpRequest);
subscribe('undici:request:create', onUndiciRequest);
