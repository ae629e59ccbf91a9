import { Pool as IndexPool } from 'undici';
import { expect, it } from 'vitest';
import { Pool } from '../../../../agent/forward/pool.ts';

it('is the Pool class undici\'s index exports, loaded without the index', () => {
  expect(Pool).toBe(IndexPool);
});
