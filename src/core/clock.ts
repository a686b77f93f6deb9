/** Milliseconds since the epoch. Time-dependent parts take one so tests can run on a fixed or fast clock. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();
