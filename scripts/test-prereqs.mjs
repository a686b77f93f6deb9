// The first step of `npm test` (its `pretest` script): the tests start and call real programs
// (Prometheus, Alertmanager, restic, zip, sqlite3, systemd-analyze, ...). Finds the ones missing;
// as root with apt-get, installs them; otherwise stops at once with the exact command to run.
// Looking a program up on PATH spawns nothing, so a machine that has everything pays a few ms.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each program the tests (and the quick bench they run) call, with the Debian package holding it. */
export const TOOLS = [
  { command: 'prometheus', deb: 'prometheus' },
  { command: 'promtool', deb: 'prometheus' },
  { command: 'prometheus-alertmanager', deb: 'prometheus-alertmanager' },
  { command: 'amtool', deb: 'prometheus-alertmanager' },
  { command: 'restic', deb: 'restic' },
  { command: 'zip', deb: 'zip' },
  { command: 'unzip', deb: 'unzip' },
  { command: 'sqlite3', deb: 'sqlite3' },
  { command: 'systemd-analyze', deb: 'systemd' },
  // The bench measures peak memory with GNU time's -f, which the shell builtin lacks.
  { command: '/usr/bin/time', deb: 'time' },
  { command: 'openssl', deb: 'openssl' },
  // Encrypted off-site copies must open with the reference age tool, and its keys must work here.
  { command: 'age', deb: 'age' },
  { command: 'age-keygen', deb: 'age' },
];

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command, pathEnv) {
  if (command.startsWith('/')) return isExecutable(command);
  return pathEnv
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => isExecutable(path.join(dir, command)));
}

/** The tools of TOOLS that `pathEnv` (a PATH value) does not provide. */
export function findMissing(pathEnv) {
  return TOOLS.filter((tool) => !onPath(tool.command, pathEnv));
}

/**
 * What to do about `missing`: `ok`; `install` (root with apt-get) with the command to run; or `stop`
 * with the command a person must run.
 */
export function planFor(missing, { root, aptGet }) {
  if (missing.length === 0) return { action: 'ok' };
  const debs = [...new Set(missing.map((tool) => tool.deb))].join(' ');
  if (root && aptGet) {
    return {
      action: 'install',
      command: `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debs}`,
    };
  }
  const sudo = root ? '' : 'sudo ';
  return { action: 'stop', command: `${sudo}apt-get update && ${sudo}apt-get install -y ${debs}` };
}

function main() {
  const pathEnv = process.env.PATH ?? '';
  const missing = findMissing(pathEnv);
  const plan = planFor(missing, {
    root: process.getuid?.() === 0,
    aptGet: onPath('apt-get', pathEnv),
  });
  if (plan.action === 'ok') return 0;
  const names = missing.map((tool) => `${tool.command} (Debian package ${tool.deb})`);
  if (plan.action === 'install') {
    console.error(`test-prereqs: installing ${names.join(', ')}: ${plan.command}`);
    const install = spawnSync('sh', ['-c', `${plan.command} >/dev/null`], { stdio: 'inherit' });
    const still = findMissing(pathEnv);
    if (install.status === 0 && still.length === 0) return 0;
    console.error(
      `test-prereqs: the install did not provide ${still.map((tool) => tool.command).join(', ') || 'everything'}` +
        ` (exit ${install.status}); run it by hand: ${plan.command}`,
    );
    return 1;
  }
  for (const name of names) console.error(`test-prereqs: missing: ${name}`);
  console.error(`test-prereqs: the tests call these programs; install them, then run npm test again:\n  ${plan.command}`);
  return 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
