import { randomUUID } from 'node:crypto';
import { notFound } from './playground-error.js';

/** A google.protobuf.Any as the loaded protos spell it. */
export interface AnyMessage {
  typeUrl: string;
  value: Buffer;
}

/** A google.longrunning.Operation as the loaded protos spell it. */
export interface OperationMessage {
  name: string;
  metadata: AnyMessage;
  done: boolean;
  response?: AnyMessage;
  error?: { code: number; message: string };
}

interface Entry {
  message: OperationMessage;
  polls: number;
  finish: () => Promise<AnyMessage>;
}

/**
 * Long-running operations as Cloud Run v2 returns them from UpdateService. An operation is never done
 * in the response that starts it: it completes on the `pollsBeforeDone`-th GetOperation (at least
 * one), and only then does its effect (`finish`) happen, so callers must really wait for it.
 */
export class OperationStore {
  readonly #entries = new Map<string, Entry>();
  readonly #pollsBeforeDone: number;
  readonly #parent: string;

  constructor(options: { project: string; region: string; pollsBeforeDone: number }) {
    this.#pollsBeforeDone = Math.max(1, options.pollsBeforeDone);
    this.#parent = `projects/${options.project}/locations/${options.region}`;
  }

  start(metadata: AnyMessage, finish: () => Promise<AnyMessage>): OperationMessage {
    const message: OperationMessage = {
      name: `${this.#parent}/operations/${randomUUID()}`,
      metadata,
      done: false,
    };
    this.#entries.set(message.name, { message, polls: 0, finish });
    // Bounded: a daemon polling for days must not grow the emulator.
    if (this.#entries.size > 1000) this.#entries.delete(this.#entries.keys().next().value!);
    return { ...message };
  }

  /** One GetOperation: counts the poll and completes the operation when its turn has come. */
  async poll(name: string): Promise<OperationMessage> {
    const entry = this.#entries.get(name);
    if (!entry) throw notFound(`operation ${name} not found`);
    entry.polls += 1;
    if (!entry.message.done && entry.polls >= this.#pollsBeforeDone) {
      try {
        entry.message.response = await entry.finish();
      } catch (error) {
        entry.message.error = { code: 13, message: error instanceof Error ? error.message : String(error) };
      }
      entry.message.done = true;
    }
    return { ...entry.message };
  }
}
