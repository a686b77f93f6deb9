/**
 * How per-revision metric reads are batched into one query and how the answer is split back. Pure.
 *
 * One Cloud Monitoring ListTimeSeries can read many revisions at once (`revision_name =
 * one_of(...)`) when its rows stay apart per revision (grouped by service and revision name). The
 * bound keeps the filter short (Cloud Run names are at most 63 characters: 50 of them, quoted, are
 * about 3.3 KB of filter) and one answer small enough for a page or two, while 500 services still
 * cost 10 calls a signal a pass instead of 500.
 */
export const MAX_REVISIONS_PER_QUERY = 50;

/** A revision as a batch knows it: names only (its project, metric and window are the batch's). */
export interface BatchedRevision {
  service: string;
  revision: string;
}

/** The key of a revision in a batch and in its answer: service and revision name together. */
export function revisionKey(service: string, revision: string): string {
  return JSON.stringify([service, revision]);
}

/** The distinct services and revisions a batch's filter must name, in the order first asked. */
export function batchNames(members: readonly BatchedRevision[]): { services: string[]; revisions: string[] } {
  return {
    services: [...new Set(members.map((member) => member.service))],
    revisions: [...new Set(members.map((member) => member.revision))],
  };
}

/**
 * The rows of one batched answer, per revision asked. `keyOf` gives a row's revision key (null when
 * the row names none). A filter naming services and revisions matches their cross product, so rows
 * of a revision nobody asked for (a same-named revision of another batched service) are dropped;
 * a revision asked for with no rows gets an empty list (no traffic: no series, never zeros).
 */
export function splitByRevision<R>(
  rows: readonly R[],
  keyOf: (row: R) => string | null,
  asked: readonly BatchedRevision[],
): Map<string, R[]> {
  const split = new Map<string, R[]>(
    asked.map((member) => [revisionKey(member.service, member.revision), []]),
  );
  for (const row of rows) {
    const key = keyOf(row);
    if (key !== null) split.get(key)?.push(row);
  }
  return split;
}
