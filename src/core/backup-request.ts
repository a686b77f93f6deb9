/**
 * Why and by what a backup is taken: the combinations runwarden makes. A backup asked for over
 * HTTP (`POST /v1/backups`) carries its caller's own reason, checked by the route.
 */
export type BackupRequest =
  | { trigger: 'schedule'; reason: 'scheduled' }
  | { trigger: 'cli'; reason: 'manual' | 'pre-deploy' | 'pre-restore' }
  | { trigger: 'watch'; reason: 'pre-deploy' }
  // A backup sidecar starting in a revision whose data the bucket has no archive of yet.
  | { trigger: 'startup'; reason: 'pre-deploy' }
  | { trigger: 'http'; reason: string };

export type BackupTrigger = BackupRequest['trigger'];
