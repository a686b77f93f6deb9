/** Payloads of the daemon's own events (names in event-bus.ts). */

/** The daemon serves HTTP at `address` (host:port) and its jobs are scheduled. */
export interface DaemonReadyEvent {
  address: string;
}

/** The daemon began to drain: `signal` names why (SIGTERM, SIGINT, or a caller's reason). */
export interface DaemonStoppingEvent {
  signal: string;
}

/** A configuration check finished (at start, then hourly): every problem it found, none when healthy. */
export interface ConfigCheckedEvent {
  problems: Array<{ kind: string; subject: string; message: string }>;
}
