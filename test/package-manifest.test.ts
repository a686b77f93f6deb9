import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** The package each bare specifier in `text` names (`@scope/name` or `name`): static, re-export and dynamic imports. */
function packagesImported(text: string): Set<string> {
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\sfrom\s+'([^']+)'/gm,
    /^\s*import\s+'([^']+)'/gm,
    /\bimport\(\s*'([^']+)'\s*\)/g,
  ];
  const specifiers = patterns.flatMap((pattern) =>
    [...text.matchAll(pattern)].map((match) => match[1] ?? ''),
  );
  return new Set(
    specifiers
      .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
      .filter((specifier) => !builtinModules.includes(specifier))
      .map((specifier) =>
        specifier
          .split('/')
          .slice(0, specifier.startsWith('@') ? 2 : 1)
          .join('/'),
      ),
  );
}

const read = (dir: string) =>
  sourceFiles(path.join(root, dir))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
const srcText = read('src');
const testText = read('test');

describe('package.json dependencies', () => {
  it('every package src/ imports is a production dependency', () => {
    const missing = [...packagesImported(srcText)].filter((name) => !(name in manifest.dependencies));
    expect(missing).toEqual([]);
  });

  it('a package only the tests use is a devDependency, so the production image leaves it out', () => {
    // A package may be named as a string rather than imported (pino loads its transports by name).
    const usedBySrc = (name: string) => srcText.includes(`'${name}'`) || srcText.includes(`'${name}/`);
    const testOnly = [...packagesImported(testText)].filter(
      (name) => name in manifest.dependencies && !usedBySrc(name),
    );
    expect(testOnly).toEqual([]);
    expect(manifest.devDependencies).toHaveProperty('yazl');
  });
});
