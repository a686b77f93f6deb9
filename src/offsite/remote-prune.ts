import type { BackupConfig } from '../config/schema/backup.js';
import type { OffsiteConfig } from '../config/schema/offsite.js';
import { archiveTime } from '../core/archive-time.js';
import { errorMessage, RunwardenError } from '../core/errors.js';
import { planRemoteRetention, type RemoteCopy } from '../core/offsite-retention.js';
import { isEmptyPolicy } from '../core/retention.js';
import type { EventBus } from '../events/event-bus.js';
import type { ObjectStore } from '../storage/object-store.js';
import { AGE_SUFFIX } from './encrypt.js';
import { offsiteObjectUrl, offsiteRetentionPolicy } from './offsite-options.js';

/** A copy the catalog confirmed: its gs:// URL and the generation whose size and CRC32C matched. */
export interface ConfirmedObject {
  objectName: string;
  generation: number;
}

export interface RemotePruneDeps {
  store: ObjectStore;
  /** Every copy the catalog holds as confirmed (read once, after the bucket was listed). */
  confirmed: () => Iterable<ConfirmedObject>;
  /** Told of each confirmed copy whose object is gone (deleted here, or by someone else). */
  forget: (copy: ConfirmedObject) => void;
  config: BackupConfig & { offsite: OffsiteConfig };
  /** Announces offsite:pruned, which the metrics follow. */
  events?: EventBus;
  clock: () => number;
}

/** One archive object of the bucket and what remote retention did with it. */
export interface RemotePruneDecision {
  /** Object name under the configured prefix. */
  name: string;
  /** gs://bucket/prefix+name */
  url: string;
  generation: number;
  /** When the archive was taken (from its name), ISO-8601 UTC. */
  time: string;
  confirmed: boolean;
  keep: boolean;
  reasons: string[];
  /** True once the object is gone (never in a dry run). */
  deleted: boolean;
  /** Why a planned deletion did not happen (changed since listed, denied, ...). */
  error?: string;
}

export interface RemotePruneOutcome {
  dryRun: boolean;
  /** gs://bucket/prefix */
  bucket: string;
  /** No keep_* rule is on: nothing is ever deleted from the bucket. */
  emptyPolicy: boolean;
  /** Newest first. */
  decisions: RemotePruneDecision[];
  retained: number;
  /** Object names deleted. */
  deleted: string[];
  /** Objects under the archive prefix that are not archives (not `<prefix>_YYYYMMDD_HHMMSS.zip[.age]`): left alone. */
  ignored: number;
}

/**
 * Applies the off-site policy (offsite.retention, else backup.retention) to the bucket's archive
 * objects: lists them, judges each by the time in its name (an upload time would make a backlog
 * caught up in one go look new), and unless `dryRun` deletes what planRemoteRetention drops. Only
 * the catalog decides what is confirmed: the listed name AND generation must be the recorded ones,
 * so an object someone replaced, or wrote without runwarden, is never deleted nor counted. Each
 * delete carries ifGenerationMatch on the listed generation: an object changed in between gets a
 * 412 and stays, reported on its decision, and the rest go on. Throws on a failed listing or a bad
 * policy (FatalError RW_RETENTION_POLICY); the signal's abort stops before the next delete.
 * Emits offsite:pruned.
 */
export async function pruneRemote(
  deps: RemotePruneDeps,
  options: { dryRun: boolean; signal: AbortSignal },
): Promise<RemotePruneOutcome> {
  const { config, store } = deps;
  const offsite = config.offsite;
  const listed = await store.list(`${config.prefix}_`, options.signal);
  const confirmed = new Set<string>();
  for (const copy of deps.confirmed()) confirmed.add(`${copy.generation} ${copy.objectName}`);

  let ignored = 0;
  const copies: Array<RemoteCopy & { url: string }> = [];
  for (const object of listed) {
    // An encrypted copy is `<archive>.age`: judged by its archive's name like a plain one.
    const archiveName = object.name.endsWith(AGE_SUFFIX)
      ? object.name.slice(0, -AGE_SUFFIX.length)
      : object.name;
    const time = archiveTime(archiveName, config.prefix, config.timezone);
    // Only archive names directly under the prefix: a `sub/backup_..zip` is not ours to judge.
    if (time === undefined || object.name.includes('/')) {
      ignored += 1;
      continue;
    }
    const url = offsiteObjectUrl(offsite, object.name);
    copies.push({
      name: object.name,
      generation: object.generation,
      time,
      url,
      confirmed: confirmed.has(`${object.generation} ${url}`),
    });
  }

  const policy = offsiteRetentionPolicy(config);
  const plan = planRemoteRetention(copies, policy, deps.clock());
  const decisions: RemotePruneDecision[] = plan.map(({ copy, keep, reasons }) => ({
    name: copy.name,
    url: copy.url,
    generation: copy.generation,
    time: new Date(copy.time).toISOString(),
    confirmed: copy.confirmed,
    keep,
    reasons,
    deleted: false,
  }));

  const deleted: string[] = [];
  let gone = 0;
  if (!options.dryRun) {
    for (const decision of decisions) {
      if (decision.keep) continue;
      options.signal.throwIfAborted();
      try {
        await store.delete(decision.name, { ifGenerationMatch: decision.generation }, options.signal);
        decision.deleted = true;
        deleted.push(decision.name);
        deps.forget({ objectName: decision.url, generation: decision.generation });
      } catch (error) {
        if (options.signal.aborted) throw error;
        // Another prune (the daemon's and a CLI's) got there first: the end wanted, not a failure.
        if (error instanceof RunwardenError && error.code === 'RW_STORAGE_NOT_FOUND') {
          decision.reasons = [GONE_REASON];
          gone += 1;
          deps.forget({ objectName: decision.url, generation: decision.generation });
        } else decision.error = whyNotDeleted(error, decision.generation);
      }
    }
  }
  const retained = decisions.length - deleted.length - gone;
  deps.events?.emit('offsite:pruned', { retained, deleted, dryRun: options.dryRun });
  return {
    dryRun: options.dryRun,
    bucket: offsiteObjectUrl(offsite, ''),
    emptyPolicy: isEmptyPolicy(policy),
    decisions,
    retained,
    deleted,
    ignored,
  };
}

/** The reason on a decision whose object was already deleted when its turn came. */
export const GONE_REASON = 'already gone: deleted by someone else since it was listed';

function whyNotDeleted(error: unknown, generation: number): string {
  const code = error instanceof RunwardenError ? error.code : undefined;
  if (code === 'RW_STORAGE_PRECONDITION')
    return `changed since it was listed (generation ${generation} is no longer the live one): left in place`;
  if (code === 'RW_STORAGE_DENIED')
    return `${errorMessage(error)} (deleting needs roles/storage.objectAdmin; offsite.retention with every rule off, keep_within: 0s, turns remote deletion off)`;
  return errorMessage(error);
}
