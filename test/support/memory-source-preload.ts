/**
 * `node --import` this into a dyeline process to give it the test-only `memory://` kind, its
 * backends filled from DYELINE_TEST_MEMORY (JSON: backend name → items).
 */
import type { SourceItem } from '../../daemon/sources/source.ts';
import { memoryBackend, registerMemorySource } from './memory-source.ts';

registerMemorySource();
const seed = JSON.parse(process.env.DYELINE_TEST_MEMORY ?? '{}') as Record<string, SourceItem[]>;
for (const [name, items] of Object.entries(seed)) for (const item of items) memoryBackend(name).put(item);
