import type { WatchRuntime } from './watch-runtime.js';

/**
 * Why a person is asked for `--force` before promoting `revision`: it was a tagged no-traffic
 * candidate whose newest watch did not see it pass its tests (failed, still under test, or never
 * reachable). Null when it passed, or was never a candidate under test (it served traffic at once,
 * or no daemon watched it), or its watch went on with traffic and promoted it.
 */
export function candidateTestNotice(
  rt: WatchRuntime,
  service: string,
  revision: string,
): { code: 'RW_CANDIDATE_FAILED' | 'RW_CANDIDATE_UNTESTED'; message: string } | null {
  // Newest first; a candidate's watch is recent (a deploy a day is 30 a month).
  const watch = rt.store.watches.recent(service, 50).find((entry) => entry.candidate === revision);
  const test = watch?.release?.test;
  // Given traffic afterwards and promoted by its watch, it proved itself on users instead.
  if (!watch || !test || watch.status === 'promoted') return null;
  // Rolled back or failed while serving: its bad mark says why (badMarkNotice).
  const markedOtherwise = watch.status === 'rolled_back' || watch.status === 'failed';
  if (test.verdict !== 'failed' && markedOtherwise) return null;
  switch (test.verdict) {
    case 'passed':
      return null;
    case 'failed':
      return {
        code: 'RW_CANDIDATE_FAILED',
        message: `${revision} failed its tests at its tag URL (${test.detail})`,
      };
    case 'testing':
      return {
        code: 'RW_CANDIDATE_UNTESTED',
        message: `${revision} has not passed its tests at its tag URL yet (${test.detail})`,
      };
    case 'unreachable':
      return {
        code: 'RW_CANDIDATE_UNTESTED',
        message: `${revision} was never tested: ${test.detail}`,
      };
  }
}
