/**
 * Glob patterns for media include/exclude, matched against `/`-separated paths relative to the media
 * folder: `*` any characters but `/`, `**` any number of whole segments, `?` one character but `/`,
 * `{a,b}` alternatives, `[abc]` / `[!abc]` a character class. Dotfiles are matched like any other
 * name (an exclude is the way to leave them out).
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  let index = 0;
  let braces = 0;
  while (index < pattern.length) {
    const char = pattern[index] as string;
    if (char === '*') {
      if (pattern[index + 1] === '*') {
        const atStart = index === 0 || pattern[index - 1] === '/';
        const atEnd = index + 2 === pattern.length || pattern[index + 2] === '/';
        if (atStart && atEnd) {
          // `**/` matches zero or more whole segments; a trailing `**` matches everything below
          source += index + 2 === pattern.length ? '.*' : '(?:.*/)?';
          index += index + 2 === pattern.length ? 2 : 3;
          continue;
        }
      }
      source += '[^/]*';
      while (pattern[index] === '*') index++;
      continue;
    }
    if (char === '?') source += '[^/]';
    else if (char === '{') {
      braces++;
      source += '(?:';
    } else if (char === '}' && braces > 0) {
      braces--;
      source += ')';
    } else if (char === ',' && braces > 0) source += '|';
    else if (char === '[') {
      const close = pattern.indexOf(']', index + 2);
      if (close === -1) source += '\\[';
      else {
        const body = pattern
          .slice(index + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        source += `[${body}]`;
        index = close;
      }
    } else source += char.replace(/[.+^$()|\\\]{}]/g, '\\$&');
    index++;
  }
  if (braces > 0) throw new Error(`glob ${JSON.stringify(pattern)}: unclosed {`);
  return new RegExp(`^${source}$`);
}

/** A matcher for `path` against any of `patterns`. */
export function globMatcher(patterns: readonly string[]): (path: string) => boolean {
  const expressions = patterns.map(globToRegExp);
  return (path) => expressions.some((expression) => expression.test(path));
}
