import { describe, expect, it } from 'vitest';
import { parseSourceUri } from '../../../daemon/config.ts';

describe('--source URIs', () => {
  it('parses file, etcd and nacos URIs with defaults', () => {
    expect(parseSourceUri('file:///etc/dyeline/rules/', {})).toEqual({ kind: 'file', uri: 'file:///etc/dyeline/rules', dir: '/etc/dyeline/rules' });
    expect(parseSourceUri('etcd://10.0.0.1:2379,10.0.0.2:2379', {})).toMatchObject({ hosts: ['10.0.0.1:2379', '10.0.0.2:2379'], prefix: '/dyeline/' });
    expect(parseSourceUri('nacos://n:8848?services=orders,pricing', {})).toMatchObject({
      group: 'DYELINE',
      dataId: 'dyeline-rules.yaml',
      namespace: '',
      services: ['orders', 'pricing'],
    });
  });

  it('nacos transport: auto by default and left out of the URI; grpc, http and grpcPort written out when given', () => {
    const auto = parseSourceUri('nacos://n:8848?services=orders', {});
    expect(auto).toMatchObject({ transport: 'auto', grpcPort: undefined });
    expect(auto.uri).toBe('nacos://n:8848?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=orders');
    const grpc = parseSourceUri('nacos://n:8848,m:8848?transport=grpc&grpcPort=19848', {});
    expect(grpc).toMatchObject({ transport: 'grpc', grpcPort: 19848, servers: ['n:8848', 'm:8848'] });
    expect(grpc.uri).toBe('nacos://n:8848,m:8848?namespace=&group=DYELINE&dataId=dyeline-rules.yaml&services=*&transport=grpc&grpcPort=19848');
    expect(parseSourceUri('nacos://n:8848?transport=http', {})).toMatchObject({ transport: 'http' });
  });

  it('takes credentials from the environment only and never shows them', () => {
    const c = parseSourceUri('etcd://127.0.0.1:2379?prefix=/p', { DYELINE_ETCD_USERNAME: 'root', DYELINE_ETCD_PASSWORD: 's3cret' });
    expect(c).toMatchObject({ username: 'root', password: 's3cret', prefix: '/p/' });
    expect(c.uri).not.toContain('s3cret');
    expect(() => parseSourceUri('nacos://nacos:pw@127.0.0.1:8848', {})).toThrow(/credentials are not allowed/);
  });

  it('nacos tls=true on every transport: the CA and the client certificate from the environment, both halves or neither', () => {
    const env = { DYELINE_NACOS_CA_FILE: '/tls/ca.crt', DYELINE_NACOS_CERT_FILE: '/tls/tls.crt', DYELINE_NACOS_KEY_FILE: '/tls/tls.key' };
    for (const transport of ['grpc', 'http', 'auto']) {
      const c = parseSourceUri(`nacos://127.0.0.1:8848?transport=${transport}&tls=true`, env);
      expect(c).toMatchObject({ transport, tls: { caFile: '/tls/ca.crt', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' } });
      expect(c.uri).toMatch(/tls=true/);
    }
    expect(parseSourceUri('nacos://127.0.0.1:8848?transport=grpc&tls=true', {})).toMatchObject({ tls: { caFile: undefined, certFile: undefined, keyFile: undefined } });
    expect(parseSourceUri('nacos://127.0.0.1:8848?transport=grpc', env)).not.toHaveProperty('tls');
    expect(() => parseSourceUri('nacos://127.0.0.1:8848?tls=true', { DYELINE_NACOS_CERT_FILE: '/tls/tls.crt' })).toThrow(/DYELINE_NACOS_CERT_FILE and DYELINE_NACOS_KEY_FILE: set both/);
  });

  it.each([
    ['ftp://x', /unknown scheme "ftp"/],
    ['file://relative/dir', /absolute/],
    ['etcd://', /host:port/],
    ['etcd://127.0.0.1:2379?prefx=/a', /unknown etcd parameter "prefx"/],
    ['nacos://127.0.0.1:8848?dataId=a b', /dataId "a b"/],
    ['nacos://127.0.0.1:8848?grp=x', /unknown nacos parameter "grp"/],
    ['nacos://127.0.0.1:8848?transport=udp', /nacos transport "udp" is not one of auto, grpc, http/],
    ['nacos://127.0.0.1:8848?grpcPort=70000', /nacos grpcPort "70000" is not a port/],
    ['nacos://127.0.0.1:8848?grpcPort=9848.5', /nacos grpcPort "9848.5" is not a port/],
    ['not a uri', /expected file:/],
  ])('rejects %s', (uri, message) => {
    expect(() => parseSourceUri(uri, {})).toThrow(message);
  });
});
