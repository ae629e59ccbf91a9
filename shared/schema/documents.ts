/**
 * The rule documents (docs/reference.md#rule-documents): `Lane`, `Service`, `Instance`, `Rollout`,
 * and the runtime document `LaneState` (their specs in rollout.ts). This file is the single
 * source of truth for their fields, defaults and docs. Unknown fields are errors.
 */
import { z } from 'zod';
import { NO_FALLBACK, STABLE } from '../color.ts';
import { Color, DocumentName, Labels, MatchRule, ServiceName } from './fields.ts';
import { API_VERSION } from './kinds.ts';
import { refinement } from './refine.ts';
import { LaneStateSpec, RolloutSpec } from './rollout.ts';

const Metadata = z.strictObject({
  name: DocumentName.describe('Name of the document; unique per kind.'),
  labels: z.record(z.string(), z.string()).optional().describe('Free-form labels, not used for routing.'),
  annotations: z.record(z.string(), z.string()).optional().describe('Free-form annotations, not used for routing.'),
});

const envelope = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION).describe(`Always "${API_VERSION}".`),
    kind: z.literal(kind),
    metadata: Metadata,
    spec,
  });

// ---------------------------------------------------------------- Lane

export const DyeSpec = z.strictObject({
  entry: z
    .array(ServiceName)
    .min(1)
    .optional()
    .describe('Services whose inbound listener dyes uncoloured requests. Absent: every service.'),
  match: z.array(MatchRule).min(1).describe('Any one matching entry dyes the request with the lane colour.'),
});

export const LaneSpec = z
  .strictObject({
    color: Color.describe('The colour this lane routes; instances of the lane carry label color=<color> by default.'),
    fallback: Color.default(STABLE).describe(
      `Lane to use when this lane has no healthy instance of a service or its circuit is open; "${NO_FALLBACK}" makes the lane strict (503).`,
    ),
    priority: z.int().min(-1000000).max(1000000).default(0).describe('Dye rules of lanes with higher priority are tried first.'),
    dye: DyeSpec.optional().describe('Rules that colour uncoloured requests at entry services.'),
  })
  .check(refinement('laneColorNotReserved', ['color']), refinement('fallbackIsAnotherLane', ['fallback']));

export const Lane = envelope('Lane', LaneSpec);
export type Lane = z.infer<typeof Lane>;

// ---------------------------------------------------------------- Service

const RetryOn = z.union([
  z.enum(['connect-failure', 'reset', 'timeout', '5xx', 'gateway-error']),
  z.string().regex(/^[1-5][0-9]{2}$/, { message: 'must be connect-failure, reset, timeout, 5xx, gateway-error or a status code like "503"' }),
]);

export const RetrySpec = z.strictObject({
  attempts: z.int().min(0).max(10).default(2).describe('Retries after the first try (0 disables retries).'),
  perTryTimeoutMs: z
    .int()
    .min(1)
    .max(3_600_000)
    .optional()
    .describe(
      "Timeout of each try. Absent: the service timeoutMs, except for a request that can be retried on a fallback lane: there 2 × the lane's observed latency (its p95, at most 2 × its p75; kept within 1–2 × the fallback lane's), within [250 ms, timeoutMs] (timeoutMs until the lane, or the lane it falls back to, has answered 8 times).",
    ),
  on: z
    .array(RetryOn)
    .min(1)
    .default(['connect-failure', 'reset', 'timeout', '5xx'])
    .describe('Failures that are retried. Non-idempotent methods are retried only on connect-failure.'),
  budgetPercent: z
    .number()
    .min(0)
    .max(100)
    .default(20)
    .describe('Retries may add at most this percentage of requests on top of first tries (retry budget).'),
});

export const CircuitBreakerSpec = z.strictObject({
  errorThresholdPercentage: z.number().min(1).max(100).default(50).describe('Error percentage over the window that opens the circuit.'),
  volumeThreshold: z.int().min(1).default(10).describe('Minimum calls in the window before the circuit may open.'),
  windowMs: z.int().min(100).default(10_000).describe('Rolling window over which errors are counted.'),
  resetTimeoutMs: z.int().min(100).default(10_000).describe('Time the circuit stays open before a half-open probe.'),
  slowCallMs: z
    .int()
    .min(1)
    .optional()
    .describe(
      "Calls slower than this count as slow, also while still in flight and when the client gave up. Absent: 2 × the lane's observed latency (its p95, at most 2 × its p75; for a lane that can fall back, kept within 1–2 × the fallback lane's), within [250 ms, timeoutMs] (timeoutMs until the lane, or the lane it falls back to, has answered 8 times).",
    ),
  slowCallPercentage: z.number().min(1).max(100).default(50).describe('Slow-call percentage over the window that opens the circuit.'),
});

export const OutlierDetectionSpec = z.strictObject({
  consecutiveFailures: z.int().min(1).default(5).describe('Consecutive failures (5xx, connect, reset, timeout) that eject an instance.'),
  baseEjectionMs: z.int().min(100).default(30_000).describe('Ejection time; multiplied by the number of times the instance was ejected.'),
  maxEjectionMs: z.int().min(100).default(300_000).describe('Upper bound of one ejection.'),
  maxEjectionPercent: z.number().min(0).max(100).default(50).describe('At most this percentage of a service\'s instances is ejected at once.'),
});

export const ServiceSpec = z
  .strictObject({
    subsets: z
      .record(Color, Labels)
      .optional()
      .describe('Lane → instance label selector. A lane absent here selects instances labelled color=<lane>.'),
    split: z
      .record(Color, z.int().min(0).max(100))
      .optional()
      .describe('Weights (summing to 100) by which uncoloured requests are spread over lanes.'),
    splitKey: z
      .string()
      .regex(/^(header|cookie):[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'must be header:NAME or cookie:NAME' })
      .optional()
      .describe('Makes split sticky: requests with the same value of this header or cookie land on the same lane.'),
    timeoutMs: z.int().min(1).max(3_600_000).default(15_000).describe('Overall deadline of a request to this service, retries included.'),
    retry: RetrySpec.default(RetrySpec.parse({})).describe('Retry policy.'),
    circuitBreaker: CircuitBreakerSpec.default(CircuitBreakerSpec.parse({})).describe('Circuit breaker per (service, lane).'),
    outlierDetection: OutlierDetectionSpec.default(OutlierDetectionSpec.parse({})).describe('Outlier ejection per instance.'),
  })
  .check(refinement('splitSumsTo100', ['split']), refinement('splitKeyNeedsSplit', ['splitKey']));

export const Service = envelope('Service', ServiceSpec);
export type Service = z.infer<typeof Service>;

// ---------------------------------------------------------------- Instance

export const InstanceSpec = z.strictObject({
  service: ServiceName.describe('The service this instance serves.'),
  address: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[A-Za-z0-9.:_-]+$/, { message: 'must be an IP address or host name' })
    .describe('IP address or host name.'),
  port: z.int().min(1).max(65535).describe('Port the instance (its inbound listener) accepts on.'),
  weight: z.int().min(0).max(10_000).default(100).describe('Relative load-balancing weight; 0 takes the instance out of rotation.'),
  labels: Labels.default({}).describe('Labels; `color` names the lane (absent: stable).'),
  healthy: z.boolean().default(true).describe('false: registry reports it unhealthy; it gets no traffic.'),
});

export const Instance = envelope('Instance', InstanceSpec);
export type Instance = z.infer<typeof Instance>;

// ---------------------------------------------------------------- Rollout, LaneState

/** A lane that widens itself while healthy (docs/reference.md#progressive-delivery). */
export const Rollout = envelope('Rollout', RolloutSpec);
export type Rollout = z.infer<typeof Rollout>;

/** A lane's runtime state, named after the Lane document: its share and whether it is degraded. */
export const LaneState = envelope('LaneState', LaneStateSpec);
export type LaneState = z.infer<typeof LaneState>;

// ---------------------------------------------------------------- any document

export const Document = z.discriminatedUnion('kind', [Lane, Service, Instance, Rollout, LaneState]);
export type Document = z.infer<typeof Document>;
/** A document as written by a user, before defaults. */
export type DocumentInput = z.input<typeof Document>;
