/**
 * The one message Nacos's gRPC services carry (docs/nacos-grpc.md#the-wire): `Payload {Metadata
 * metadata = 2; google.protobuf.Any body = 3}` with `Metadata {string type = 3; map<string, string>
 * headers = 7; string clientIp = 8}`. The body's `value` holds the request or response as UTF-8
 * JSON and its `type_url` is left empty; `type` names the Java class (`ConfigQueryRequest`, ...).
 * Encoded with protobufjs's light build from a descriptor, so no .proto file is parsed at run time.
 */
import protobuf from 'protobufjs/light.js';

/** A decoded payload; `body` is the parsed JSON object. */
export interface NacosPayload {
  type: string;
  headers: Record<string, string>;
  clientIp: string;
  body: Record<string, unknown>;
}

interface WirePayload {
  metadata?: { type?: string; clientIp?: string; headers?: Record<string, string> };
  body?: { type_url?: string; value?: Uint8Array };
}

// Field names and numbers as in Nacos's nacos_grpc_service.proto; `Body` stands for google.protobuf.Any
// (same wire format; a local name keeps protobufjs's Any wrapper out of the way).
const root = protobuf.Root.fromJSON({
  nested: {
    Metadata: {
      fields: {
        type: { type: 'string', id: 3 },
        clientIp: { type: 'string', id: 8 },
        headers: { keyType: 'string', type: 'string', id: 7 } as protobuf.IMapField,
      },
    },
    Body: {
      fields: {
        type_url: { type: 'string', id: 1 },
        value: { type: 'bytes', id: 2 },
      },
    },
    Payload: {
      fields: {
        metadata: { type: 'Metadata', id: 2 },
        body: { type: 'Body', id: 3 },
      },
    },
  },
});
const Payload = root.lookupType('Payload');

/** Encodes a request or response: JSON body, type and headers in the metadata. */
export function encodePayload(type: string, body: object, headers: Record<string, string> = {}, clientIp = ''): Buffer {
  const wire: WirePayload = {
    metadata: { type, clientIp, headers },
    body: { value: Buffer.from(JSON.stringify(body), 'utf8') },
  };
  return Buffer.from(Payload.encode(Payload.fromObject(wire)).finish());
}

/** Decodes a payload; throws on bad protobuf, a missing type, or a body that is not a JSON object. */
export function decodePayload(bytes: Uint8Array): NacosPayload {
  const wire = Payload.toObject(Payload.decode(bytes), { defaults: false }) as WirePayload;
  const type = wire.metadata?.type;
  if (!type) throw new Error('Nacos payload without a type');
  const raw = wire.body?.value;
  const body = raw && raw.length > 0 ? (JSON.parse(Buffer.from(raw).toString('utf8')) as unknown) : {};
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`Nacos payload ${type} whose body is not a JSON object`);
  return { type, headers: { ...(wire.metadata?.headers ?? {}) }, clientIp: wire.metadata?.clientIp ?? '', body: body as Record<string, unknown> };
}
