/**
 * The messages an agent sends its node's daemon over the registration socket
 * (docs/reference.md#registration; the channel itself: shared/registration.ts).
 */
import { z } from 'zod';
import { InstanceSpec } from './documents.ts';
import { DocumentName } from './fields.ts';

/** The instance an agent registers (an Instance document's spec, without `healthy`). */
export const RegisteredInstance = InstanceSpec.pick({ service: true, address: true, port: true, weight: true, labels: true });
export type RegisteredInstance = z.input<typeof RegisteredInstance>;

/** What an agent sends. */
export const AgentMessage = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('register'), id: DocumentName, instance: RegisteredInstance }),
  z.strictObject({ op: z.literal('deregister') }),
]);
export type AgentMessage = z.infer<typeof AgentMessage>;
