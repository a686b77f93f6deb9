import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderExampleConfig, spliceReference } from '../src/config/docs.js';
import { loadConfig } from '../src/config/load.js';

describe('schema-derived docs', () => {
  it('config/runwarden.example.yaml matches the schema (run `npm run docs` to update)', () => {
    expect(readFileSync(new URL('../config/runwarden.example.yaml', import.meta.url), 'utf8')).toBe(
      renderExampleConfig(),
    );
  });

  it("the README's configuration reference matches the schema (run `npm run docs` to update)", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toBe(spliceReference(readme));
  });

  it('the example config is itself valid', () => {
    expect(() =>
      loadConfig({ path: new URL('../config/runwarden.example.yaml', import.meta.url).pathname, env: {} }),
    ).not.toThrow();
  });
});
