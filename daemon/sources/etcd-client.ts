/**
 * What the etcd source takes from the `etcd3` package, as an ES module it imports when a source
 * starts: an import() of the CommonJS package itself would give its named exports in Node but a
 * default export only in the production build's chunks (scripts/build.ts, docs/footprint.md#the-build).
 */
export { Etcd3, Range } from 'etcd3';
