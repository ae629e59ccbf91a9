/** Builds the Source for each `--source` URI. */
import type { Logger } from '../../shared/log.ts';
import type { SourceConfig } from '../config.ts';
import { EtcdSource } from './etcd.ts';
import { FileSource } from './file.ts';
import { NacosSource } from './nacos.ts';
import type { Source } from './source.ts';

export function createSource(cfg: SourceConfig, log: Logger): Source {
  switch (cfg.kind) {
    case 'file':
      return new FileSource(cfg.uri, cfg.dir, log);
    case 'etcd':
      return new EtcdSource(cfg, { log });
    case 'nacos':
      return new NacosSource(cfg, { log });
  }
}
