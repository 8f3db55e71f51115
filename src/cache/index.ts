/** The feature cache: header, codec, store (writer), reader, merge, inspect, export. */
export * from './header.js';
export * from './codec.js';
export { CacheLockedError, LOCK_FILE, type LockInfo } from './lock.js';
export * from './store.js';
export * from './reader.js';
export * from './merge.js';
export * from './inspect.js';
export * from './export.js';
