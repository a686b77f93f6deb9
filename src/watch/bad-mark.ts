import type { WatchRuntime } from './watch-runtime.js';

/**
 * Why a person is asked for `--force` before sending traffic to `revision`: the sentence naming its
 * bad mark (what made it bad, and when), or null when it is not marked bad. Automation never goes
 * to such a revision; a person may, once told.
 */
export function badMarkNotice(rt: WatchRuntime, service: string, revision: string): string | null {
  const mark = rt.store.revisions
    .list(service)
    .find((entry) => entry.revision === revision && entry.verdict === 'bad');
  if (!mark) return null;
  return `${revision} is marked bad (${mark.reason}, at ${new Date(mark.at).toISOString()})`;
}
