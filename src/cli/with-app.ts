import { type App, createApp } from '../app/app.js';
import { type CommandConfig, commandLogger, type GlobalOptions, loadFromOptions } from './common.js';

/**
 * Runs a command with the app built for it: the command takes only what it touches (the store, the
 * backup service, the watch runtime...), and whatever it opened is closed after, however it ends.
 * `read` opens no store that does not exist and creates nothing (see AppOptions.storeAccess).
 */
export async function withApp<T>(
  options: GlobalOptions,
  storeAccess: 'write' | 'read',
  work: (app: App, loaded: CommandConfig) => T | Promise<T>,
): Promise<T> {
  const loaded = loadFromOptions(options);
  const app = createApp({
    config: loaded.config,
    logger: commandLogger(loaded),
    owner: `cli:${process.pid}`,
    storeAccess,
  });
  try {
    return await work(app, loaded);
  } finally {
    await app.close();
  }
}
