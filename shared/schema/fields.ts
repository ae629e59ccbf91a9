/**
 * Field types shared by the rule documents: names, colours, matchers.
 * Every field's doc and default lives here and in documents.ts, nowhere else; the JSON Schema
 * (`dyeline validate --print-schema`) and the README reference are generated from them.
 */
import { z } from 'zod';
import { COLOR_PATTERN } from '../color.ts';
import { refinement } from './refine.ts';

/** A lane colour, e.g. `canary`. */
export const Color = z
  .string()
  .max(32)
  .regex(COLOR_PATTERN, { message: 'must be a colour: lowercase letters, digits and "-", 1-32 chars, e.g. "canary"' })
  .describe('Lane colour: ^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$');

/** A service name: one DNS label (what the agent reads from the request host). */
export const ServiceName = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$/, {
    message: 'must be a service name: lowercase letters, digits, "-" and "_", 1-63 chars',
  })
  .describe('Service name as apps address it (the first DNS label of the host).');

/** A document name: what `metadata.name` holds. */
export const DocumentName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9._:#@-]*[A-Za-z0-9])?$/, {
    message: 'must be a name of letters, digits and . _ : # @ -, starting and ending with a letter or digit',
  });

/** An HTTP header, cookie or query parameter name. */
export const KeyName = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, { message: 'must be a header/cookie/parameter name (RFC 9110 token)' });

const Percent = z.number().min(0).max(100);

/**
 * How one value (a header, cookie or query parameter) is matched. Exactly one of the
 * fields is set.
 */
export const ValueMatcher = z
  .strictObject({
    exact: z.string().optional().describe('The value equals this string.'),
    prefix: z.string().min(1).optional().describe('The value starts with this string.'),
    regex: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .check(refinement('regexIsRE2'))
      .describe('The whole value matches this regular expression, in RE2 syntax (no backreferences or lookaround); matched in time linear in the length of the value.'),
    present: z.boolean().optional().describe('true: the value is present (any value); false: it is absent.'),
    hashPercent: Percent.optional().describe(
      'Sticky percentage: the value is hashed (FNV-1a) into 0-99 and matches when below this number. Same value, same answer, on every node.',
    ),
  })
  .check(refinement('oneMatcherOp'));
export type ValueMatcher = z.infer<typeof ValueMatcher>;

const MatcherMap = z.record(KeyName, ValueMatcher);

/** One entry of `dye.match`: every condition in the entry must hold (AND); entries are OR-ed. */
export const MatchRule = z
  .strictObject({
    headers: MatcherMap.optional().describe('Request headers (names are case-insensitive).'),
    cookies: MatcherMap.optional().describe('Cookies of the `cookie` header.'),
    query: MatcherMap.optional().describe('Query parameters of the request URL.'),
    percent: Percent.optional().describe('Random percentage of requests (not sticky).'),
  })
  .check(refinement('matchHasCondition'));
export type MatchRule = z.infer<typeof MatchRule>;

/** Instance labels: string keys and values, as Kubernetes labels or Nacos metadata. */
export const Labels = z.record(z.string().min(1).max(317), z.string().max(1024));
