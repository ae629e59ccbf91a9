/** The Nacos gRPC Payload on the wire: field numbers of nacos_grpc_service.proto, JSON bodies, bad input refused. */
import { describe, expect, it } from 'vitest';
import { decodePayload, encodePayload } from '../../../../../daemon/sources/nacos/grpc-payload.ts';

/** Protobuf length-delimited field: tag (field << 3 | 2), length, bytes. */
function ld(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}
const str = (s: string) => Buffer.from(s, 'utf8');

describe('Nacos gRPC payload', () => {
  it('encodes Payload{metadata=2{type=3, headers=7 (map entries key=1 value=2), clientIp=8}, body=3{value=2}} byte for byte', () => {
    const json = '{"dataId":"d"}';
    const expected = ld(
      2,
      Buffer.concat([ld(3, str('ConfigQueryRequest')), ld(7, Buffer.concat([ld(1, str('accessToken')), ld(2, str('t'))])), ld(8, str('10.1.2.3'))]),
    );
    const body = ld(3, ld(2, str(json)));
    expect(encodePayload('ConfigQueryRequest', { dataId: 'd' }, { accessToken: 't' }, '10.1.2.3')).toEqual(Buffer.concat([expected, body]));
  });

  it('decodes what Nacos sends (type_url empty, JSON value) and skips fields it does not know', () => {
    const unknownField = Buffer.from([(9 << 3) | 0, 1]); // field 9, varint 1
    const bytes = Buffer.concat([
      ld(2, Buffer.concat([ld(3, str('ConfigChangeNotifyRequest')), unknownField])),
      ld(3, ld(2, str('{"dataId":"rules.yaml","group":"DYELINE","tenant":"","requestId":"7"}'))),
    ]);
    expect(decodePayload(bytes)).toEqual({
      type: 'ConfigChangeNotifyRequest',
      headers: {},
      clientIp: '',
      body: { dataId: 'rules.yaml', group: 'DYELINE', tenant: '', requestId: '7' },
    });
  });

  it('round-trips type, headers, client IP and a UTF-8 body', () => {
    const body = { content: 'name: 灰度 ✓\n', n: 1.5, list: [1, 'x'], nested: { a: null } };
    const back = decodePayload(encodePayload('ConfigQueryResponse', body, { a: '1', b: '' }, '::1'));
    expect(back).toEqual({ type: 'ConfigQueryResponse', headers: { a: '1', b: '' }, clientIp: '::1', body });
  });

  it('refuses garbage, a payload without a type, and a body that is not a JSON object', () => {
    expect(() => decodePayload(Buffer.from([0xff, 0xff, 0xff]))).toThrow();
    expect(() => decodePayload(ld(3, ld(2, str('{}'))))).toThrow(/without a type/);
    expect(() => decodePayload(Buffer.concat([ld(2, ld(3, str('X'))), ld(3, ld(2, str('[1]')))]))).toThrow(/not a JSON object/);
    expect(() => decodePayload(Buffer.concat([ld(2, ld(3, str('X'))), ld(3, ld(2, str('{oops')))]))).toThrow(SyntaxError);
    // An empty body is an empty object (a response with only defaults).
    expect(decodePayload(ld(2, ld(3, str('HealthCheckResponse')))).body).toEqual({});
  });
});
