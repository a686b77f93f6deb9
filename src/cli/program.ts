import { Command } from 'commander';
import { VERSION } from '../version.js';
import { registerBackup } from './commands/backup.js';
import { registerBackups } from './commands/backups.js';
import { registerBackupsPrune } from './commands/backups-prune.js';
import { registerConfig } from './commands/config.js';
import { registerDaemon } from './commands/daemon.js';
import { registerDemo } from './commands/demo.js';
import { registerPlayground } from './commands/playground.js';
import { registerRestore } from './commands/restore.js';
import { registerStatus } from './commands/status.js';
import { registerHistory } from './commands/history.js';
import { registerRollback } from './commands/rollback.js';
import { registerPromote } from './commands/promote.js';
import { registerPredeploy } from './commands/predeploy.js';
import { registerFreeze } from './commands/freeze.js';
import { registerUnfreeze } from './commands/unfreeze.js';

/** Every command, registered in one place; a test checks each file under commands/ is listed. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerDaemon,
  registerConfig,
  registerBackup,
  registerBackups,
  registerBackupsPrune,
  registerRestore,
  registerPlayground,
  registerDemo,
  registerStatus,
  registerHistory,
  registerRollback,
  registerPromote,
  registerPredeploy,
  registerFreeze,
  registerUnfreeze,
];

export function buildProgram(): Command {
  const program = new Command('runwarden')
    .description(
      'Watchdog for apps on Google Cloud Run: verified backups of SQLite and media, automatic rollback of bad deploys',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  return program;
}
