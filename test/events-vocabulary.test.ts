import { describe, expect, it } from 'vitest';
import type { BackupCause } from '../src/events/backup-events.js';
import { EventBus } from '../src/events/event-bus.js';

// `npm run typecheck` compiles this file: each @ts-expect-error below fails the build if the
// vocabulary ever accepts the payload it marks.
describe('the backup vocabulary', () => {
  it('pairs each trigger with its reasons, and only HTTP callers give their own words', () => {
    const events = new EventBus();
    const seen: BackupCause[] = [];
    events.on('backup:started', (cause) => seen.push(cause));
    events.emit('backup:started', { trigger: 'schedule', reason: 'scheduled' });
    events.emit('backup:started', { trigger: 'cli', reason: 'pre-restore' });
    events.emit('backup:started', { trigger: 'watch', reason: 'pre-deploy' });
    events.emit('backup:started', { trigger: 'http', reason: 'release 42' });
    // @ts-expect-error the schedule only ever takes `scheduled` backups
    events.emit('backup:started', { trigger: 'schedule', reason: 'manual' });
    // @ts-expect-error no such trigger
    events.emit('backup:started', { trigger: 'cron', reason: 'scheduled' });
    // @ts-expect-error no such reason
    events.emit('backup:started', { trigger: 'cli', reason: 'nightly' });
    expect(seen.map((cause) => cause.trigger)).toEqual([
      'schedule',
      'cli',
      'watch',
      'http',
      'schedule',
      'cron',
      'cli',
    ]);
  });
});
