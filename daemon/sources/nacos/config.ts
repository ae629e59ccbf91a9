/** A parsed `nacos://` URI (the kind's parseUri in ../nacos.ts makes it; every Nacos source reads it). */
import type { TlsFileNames } from '../../../shared/tls-files.ts';
import type { SourceConfig } from '../source.ts';

/** How the source talks to Nacos: `auto` picks gRPC when the server has it, else HTTP v1. */
export type NacosTransportChoice = 'auto' | 'grpc' | 'http';

/** A parsed `nacos://` URI. */
export interface NacosSourceConfig extends SourceConfig {
  kind: 'nacos';
  /** `host:port` of each server (the HTTP port). */
  servers: string[];
  /** Namespace id; '' is the public namespace. */
  namespace: string;
  group: string;
  dataId: string;
  /** Service names whose instances are mirrored; `['*']` for all; empty for none. */
  services: string[];
  transport: NacosTransportChoice;
  /** gRPC port of every server; default each server's port + 1000. */
  grpcPort?: number;
  username?: string;
  password?: string;
  /**
   * `tls=true`: gRPC over TLS and https, verified with the CA file named by DYELINE_NACOS_CA_FILE
   * (else the system's roots), with the client certificate of DYELINE_NACOS_CERT_FILE/_KEY_FILE when set.
   */
  tls?: TlsFileNames;
}
