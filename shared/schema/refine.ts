/**
 * A refinement of refinements.ts as a zod check: the schema names it (`params.refinement`), so
 * the validator compiled from the schema (shared/schema/validators/) calls the same function, and
 * its message is the function's answer.
 */
import { z } from 'zod';
import { REFINEMENTS, type RefinementName } from './refinements.ts';

/** The check of refinement `name`; its issue lands at `path` (relative to the refined value). */
export function refinement<T>(name: RefinementName, path?: string[]): z.core.$ZodCheck<T> {
  const problem = REFINEMENTS[name] as (value: T) => string | undefined;
  return z.refine<T>((value) => problem(value) === undefined, {
    error: (issue) => problem(issue.input as T),
    ...(path === undefined ? {} : { path }),
    params: { refinement: name },
  });
}
