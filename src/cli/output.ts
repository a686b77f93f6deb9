import { stringify } from 'yaml';

/** Writes `data` as one JSON document (for --json) or as the human text `human` renders. */
export function printResult<T>(data: T, asJson: boolean, human: (data: T) => string): void {
  process.stdout.write(asJson ? `${JSON.stringify(data, null, 2)}\n` : ensureNewline(human(data)));
}

export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
