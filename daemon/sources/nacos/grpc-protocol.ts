/**
 * Names and codes of the Nacos gRPC protocol dyeline speaks (docs/nacos-grpc.md), the JSON bodies
 * it reads, and the error a refused or failed call becomes.
 */
import { DyelineError, ErrorCode } from '../../../shared/errors.ts';

/** gRPC method paths of Nacos's two services. */
export const REQUEST_METHOD = '/Request/request';
export const BI_STREAM_METHOD = '/BiRequestStream/requestBiStream';

/** Nacos's response codes (`resultCode`, `errorCode`) that the client acts on. */
export const NacosCode = {
  Success: 200,
  /** Config query: the config does not exist. */
  ConfigNotFound: 300,
  /** Server still starting ("Server is starting,please try later."). */
  ServerStarting: 300,
  /** The connection carrying the request has no registered bi-stream ("Connection is unregistered."). */
  Unregistered: 301,
  /** No handler for the request type (server too old or too new). */
  NoHandler: 302,
  /** Auth refused (token missing, invalid or expired; user without permission). */
  NoRight: 403,
} as const;

/** Labels a connection announces in its set-up; naming requests need `module: naming`. */
export type NacosModule = 'config' | 'naming';

/** Every response body has these (Nacos's Response). */
export interface NacosResponse {
  resultCode?: number;
  errorCode?: number;
  message?: string;
  requestId?: string;
}

/** A Nacos host as ServiceInfo lists it. */
export interface NacosHost {
  instanceId?: string;
  ip?: string;
  port?: number;
  weight?: number;
  healthy?: boolean;
  enabled?: boolean;
  ephemeral?: boolean;
  clusterName?: string;
  serviceName?: string;
  metadata?: Record<string, string>;
}

/** ServiceInfo, in subscribe answers and naming pushes. */
export interface NacosServiceInfo {
  name?: string;
  groupName?: string;
  clusters?: string;
  cacheMillis?: number;
  hosts?: unknown[];
  lastRefTime?: number;
  checksum?: string;
}

/** A call refused or failed: Nacos's code (or the gRPC status for transport failures) and message. */
export class NacosRpcError extends DyelineError {
  /** Nacos `errorCode` of an answer, or undefined when no answer came. */
  readonly nacosCode: number | undefined;
  /** Payload type of the answer (`ErrorResponse`, `ConfigQueryResponse`, ...) when one came. */
  readonly responseType: string | undefined;
  /** gRPC status code when the transport failed. */
  readonly grpcCode: number | undefined;
  constructor(message: string, opts: { nacosCode?: number; responseType?: string; grpcCode?: number; cause?: unknown } = {}) {
    super(ErrorCode.Source, message, { cause: opts.cause });
    this.name = 'NacosRpcError';
    this.nacosCode = opts.nacosCode;
    this.responseType = opts.responseType;
    this.grpcCode = opts.grpcCode;
  }
}

/** Whether an answer body is a success (resultCode 200, as Nacos's Response.isSuccess). */
export function isSuccess(body: NacosResponse): boolean {
  return (body.resultCode ?? NacosCode.Success) === NacosCode.Success;
}
