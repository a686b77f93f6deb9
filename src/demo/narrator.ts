import path from 'node:path';

/**
 * Prints the demo's story for a person: step titles, then what happened, each line stamped with
 * the seconds since the demo started. Plain text, no colours, one write per line (readable when
 * piped to a file or a CI log).
 */
export class Narrator {
  readonly #started: number;

  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly cwd = process.cwd(),
    now = Date.now(),
  ) {
    this.#started = now;
  }

  /** A line without a time stamp. */
  say(text = ''): void {
    this.out.write(`${text}\n`);
  }

  step(number: number, title: string): void {
    this.say(`${number}. ${title}`);
  }

  /** Something that happened now. */
  event(text: string): void {
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1).padStart(5);
    this.say(`[${seconds}s]   ${text}`);
  }

  /** A detail of the line above it. */
  detail(text: string): void {
    this.say(`            ${text}`);
  }

  /** `file` relative to the working folder when it is inside it, else as given. */
  path(file: string): string {
    const relative = path.relative(this.cwd, file);
    return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
  }
}

export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
