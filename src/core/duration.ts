/** Parses and formats durations written like restic and Go do: `90s`, `30m`, `7d`, `1h30m`, `500ms`. */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DURATION_PATTERN = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART_PATTERN = /(\d+)(ms|s|m|h|d|w)/g;

/** Milliseconds in `text`, or undefined when it is not a duration like "7d" or "1h30m". */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART_PATTERN)) {
    total += Number(amount) * (UNIT_MS[unit as string] as number);
  }
  return total;
}

/** The shortest exact text for `ms`, e.g. 5_400_000 -> "1h30m". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of ['w', 'd', 'h', 'm', 's', 'ms'] as const) {
    const size = UNIT_MS[unit] as number;
    const amount = Math.floor(rest / size);
    if (amount > 0) {
      text += `${amount}${unit}`;
      rest -= amount * size;
    }
  }
  return text;
}
