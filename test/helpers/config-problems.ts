import { expect } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';

/** The problems a config load reports; fails the test when it throws anything but a ConfigError, or nothing. */
export function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}
