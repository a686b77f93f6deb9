import { Command } from 'commander';
import { VERSION } from '../version.js';

type Register = (program: Command) => void;

/** A command: its name, the one line `runwarden --help` lists, and how to load its module. */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<Register>;
}

/**
 * Every command, in the order `--help` lists them; a test checks each file under commands/ is
 * here. Modules load only when their command runs: the Google clients, the emulator and the
 * backup engine cost about 0.7 s and 45 MB at start-up, which a `backup` or `--version` should
 * not pay for what it does not use.
 */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'daemon',
    summary: 'run the watchdog until SIGTERM/SIGINT',
    load: async () => (await import('./commands/daemon.js')).registerDaemon,
  },
  {
    name: 'healthcheck',
    summary: 'exit 0 when this host’s daemon answers /healthz (for a container HEALTHCHECK)',
    load: async () => (await import('./commands/healthcheck.js')).registerHealthcheck,
  },
  {
    name: 'demo',
    summary: 'the whole promise on this machine: sample data, an emulated Cloud Run, the daemon',
    load: async () => (await import('./commands/demo.js')).registerDemo,
  },
  {
    name: 'config',
    summary: 'check or print the configuration',
    load: async () => (await import('./commands/config.js')).registerConfig,
  },
  {
    name: 'backup',
    summary: 'take a verified backup now',
    load: async () => (await import('./commands/backup.js')).registerBackup,
  },
  {
    name: 'backups',
    summary: 'list, verify, import, prune and drill backup archives',
    load: async () => (await import('./commands/backups.js')).registerBackups,
  },
  {
    name: 'backups',
    summary: 'list, verify, import, prune and drill backup archives',
    load: async () => (await import('./commands/backups-prune.js')).registerBackupsPrune,
  },
  {
    name: 'backups',
    summary: 'list, verify, import, prune and drill backup archives',
    load: async () => (await import('./commands/backups-drill.js')).registerBackupsDrill,
  },
  {
    name: 'restore',
    summary: 'restore the main database, one tenant or the media folder from a backup',
    load: async () => (await import('./commands/restore.js')).registerRestore,
  },
  {
    name: 'status',
    summary: 'each watched service: stable and candidate revisions, watch state, last backup',
    load: async () => (await import('./commands/status.js')).registerStatus,
  },
  {
    name: 'history',
    summary: 'what the deploy watch did and why',
    load: async () => (await import('./commands/history.js')).registerHistory,
  },
  {
    name: 'report',
    summary: 'the report of an incident: timeline, values against thresholds, restore point, links',
    load: async () => (await import('./commands/report.js')).registerReport,
  },
  {
    name: 'emergency',
    summary:
      'the 3 a.m. procedure: what is wrong, roll back, probe /health, restore if the schema changed, report',
    load: async () => (await import('./commands/emergency.js')).registerEmergency,
  },
  {
    name: 'rollback',
    summary: 'send 100 % of traffic back to the last known good revision',
    load: async () => (await import('./commands/rollback.js')).registerRollback,
  },
  {
    name: 'promote',
    summary: 'blue-green switch: 100 % of traffic to a tested revision',
    load: async () => (await import('./commands/promote.js')).registerPromote,
  },
  {
    name: 'predeploy',
    summary: 'before a deploy: a verified backup and the stable revision recorded',
    load: async () => (await import('./commands/predeploy.js')).registerPredeploy,
  },
  {
    name: 'freeze',
    summary: 'no automatic action on a service until unfreeze',
    load: async () => (await import('./commands/freeze.js')).registerFreeze,
  },
  {
    name: 'unfreeze',
    summary: 'allow automatic action on a frozen service again',
    load: async () => (await import('./commands/unfreeze.js')).registerUnfreeze,
  },
  {
    name: 'playground',
    summary: 'run the local Cloud Run + Cloud Monitoring + Cloud Storage emulator alone',
    load: async () => (await import('./commands/playground.js')).registerPlayground,
  },
];

/**
 * The program for `argv` (process.argv). When argv names a command, only that command's modules
 * are loaded and registered; otherwise (help, a typo) every command is listed by its summary.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('runwarden')
    .description(
      'Watchdog for apps on Google Cloud Run: verified backups of SQLite and media, automatic rollback of bad deploys',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError()
    .exitOverride();
  const requested = requestedCommand(argv.slice(2));
  const wanted = COMMANDS.filter((entry) => entry.name === requested);
  if (wanted.length > 0) {
    for (const entry of wanted) (await entry.load())(program);
  } else {
    const listed = new Set<string>();
    for (const entry of COMMANDS) {
      if (listed.has(entry.name)) continue;
      listed.add(entry.name);
      program.command(entry.name).description(entry.summary);
    }
  }
  return program;
}

/** The command word of `args`: the first that is not an option (after `help`, the one it asks about). */
function requestedCommand(args: readonly string[]): string | undefined {
  const words = args.filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}
