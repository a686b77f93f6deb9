import path from 'node:path';
import type { Command } from 'commander';
import { runDemo } from '../../demo/run-demo.js';
import { ExitCode } from '../../core/errors.js';
import { abortOnStopSignals } from '../interrupt.js';

interface DemoFlags {
  once?: boolean;
  dir: string;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'the whole promise on this machine, no Google account: sample data, an emulated Cloud Run, the daemon; a backup, a good deploy promoted, a bad deploy rolled back',
    )
    .option(
      '--once',
      'tell the story and exit: 0 only if every step happened, 1 naming the step that did not',
    )
    .option('--dir <folder>', 'the demo folder, wiped and recreated at each run', './demo-data')
    .action(async (flags: DemoFlags) => {
      // The demo talks only to its own emulator; never let a Google library probe for a metadata server.
      process.env.METADATA_SERVER_DETECTION ||= 'none';
      // First Ctrl-C: stop gracefully (the daemon drains); a second one: exit now.
      const interrupt = abortOnStopSignals('the demo');
      const outcome = await runDemo({
        dir: flags.dir,
        once: flags.once === true,
        cli: cliHint(),
        stop: interrupt.signal,
      });
      const code = outcome.ok || (!flags.once && outcome.interrupted) ? ExitCode.ok : ExitCode.failed;
      // Everything the demo started is stopped; exit rather than wait on a handle a library left behind.
      process.exit(code);
    });
}

/** How a person runs the CLI from here: the installed `runwarden`, or the built file in a clone. */
function cliHint(): string {
  const script = process.argv[1] ?? '';
  if (path.basename(script) !== 'main.js') return 'runwarden';
  const relative = path.relative(process.cwd(), script);
  return `node ${relative.startsWith('..') ? script : relative}`;
}
