/**
 * The agent–daemon registration channel (docs/reference.md#registration): a Unix socket in the
 * snapshot's directory, which the node's daemon listens on and every agent on the node already
 * mounts. One connection per agent, newline-delimited JSON both ways:
 *
 *   agent → daemon   {"op":"register","id":"…","instance":{"service","address","port","weight"?,"labels"}}
 *                    {"op":"deregister"}
 *   daemon → agent   {"op":"state","state":"registered"|"pending","registry":"…","error"?:"…"}
 *                    {"op":"deregistered"}
 *                    {"op":"error","message":"…"}            (a message it could not accept)
 *
 * The connection is the registration's life: when it closes (the agent stopped or was killed)
 * the daemon removes the instance; when the daemon restarts, the agent reconnects and registers
 * again.
 */
import { dirname, join } from 'node:path';

/** The socket's file name, beside the snapshot file. */
export const REGISTRATION_SOCKET = 'register.sock';

/** Where the registration socket is for a snapshot path. */
export function registrationSocketPath(snapshotPath: string): string {
  return join(dirname(snapshotPath), REGISTRATION_SOCKET);
}

/** Longest line either side sends. */
export const MAX_LINE = 64 * 1024;

export type { AgentMessage, RegisteredInstance } from './schema/registration.ts';

/** Where a registration stands, as the daemon tells its agent. */
export type RegistrationState = 'registered' | 'pending';

/** What the daemon sends. */
export type DaemonMessage =
  | { op: 'state'; state: RegistrationState; registry: string; error?: string }
  | { op: 'deregistered' }
  | { op: 'error'; message: string };

/**
 * Splits a stream of chunks into lines (newline-delimited JSON). `onLine` gets each complete
 * line; a line longer than MAX_LINE calls `onOverflow` and the rest of the stream is dropped.
 */
export function lineReader(onLine: (line: string) => void, onOverflow: () => void): (chunk: Buffer | string) => void {
  let buf = '';
  let dead = false;
  return (chunk) => {
    if (dead) return;
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
      if (dead) return;
    }
    if (buf.length > MAX_LINE) {
      dead = true;
      buf = '';
      onOverflow();
    }
  };
}
