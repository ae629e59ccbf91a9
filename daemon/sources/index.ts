/** Builds the Source for each `--source` URI. */
import type { Logger } from '../../shared/log.ts';
import type { SourceConfig } from '../config.ts';
import { FileSource } from './file.ts';
import type { Source } from './source.ts';

export function createSource(cfg: SourceConfig, log: Logger): Source {
  switch (cfg.kind) {
    case 'file':
      return new FileSource(cfg.uri, cfg.dir, log);
    case 'etcd':
      // TODO(etcd): wire the etcd source here.
      throw new Error('etcd source not available yet');
    case 'nacos':
      // TODO(nacos): wire the Nacos source here.
      throw new Error('nacos source not available yet');
  }
}
