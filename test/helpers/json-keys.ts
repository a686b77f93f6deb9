/**
 * The keys of the top-level object of one JSON text, in order and with repeats. JSON.parse keeps
 * only the last of a repeated key, so a line such as `{"a":1,"a":2}` can only be caught by reading
 * the text itself.
 */
export function topLevelKeys(text: string): string[] {
  JSON.parse(text); // a line that is not JSON fails here, with the parser's message
  const keys: string[] = [];
  let depth = 0;
  for (let at = 0; at < text.length; at++) {
    const char = text[at];
    if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
    else if (char === '"') {
      let end = at + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const after = text.slice(end + 1).trimStart();
      if (depth === 1 && after.startsWith(':')) keys.push(JSON.parse(text.slice(at, end + 1)));
      at = end;
    }
  }
  return keys;
}

/** Keys that appear more than once at the top level of `text`. */
export function repeatedKeys(text: string): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const key of topLevelKeys(text)) (seen.has(key) ? repeated : seen).add(key);
  return [...repeated];
}
