/**
 * "Could not read" as its own state. An adapter read that failed (throttled, timed out, access denied, network)
 * is `unknown`, never a definite value such as `terminated`, `detached` or `down`: decisions never act on an
 * unknown (trino-gateway's `TrinoStatus.UNKNOWN` is the model).
 *
 * @module
 */
import { SentinelError } from '../errors.ts';

/** A value that was read, or the reason it could not be. */
export type Observed<T> =
  | { readonly known: true; readonly value: T }
  | { readonly known: false; readonly reason: string };

/** A known value. */
export function known<T>(value: T): Observed<T> {
  return { known: true, value };
}

/** An unknown value and why. */
export function unknown(reason: string): Observed<never> {
  return { known: false, reason };
}

/**
 * Runs a read and turns any failure into `unknown` (with the error's name and message as the reason).
 * @param read - The adapter call.
 * @returns `known(value)` or `unknown(reason)`; never throws.
 */
export async function observe<T>(read: () => Promise<T>): Promise<Observed<T>> {
  try {
    return known(await read());
  } catch (error) {
    const reason =
      error instanceof SentinelError || error instanceof Error
        ? `${error.name}: ${error.message}`
        : String(error);
    return unknown(reason);
  }
}
