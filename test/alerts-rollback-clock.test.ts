import { describe, expect, it } from 'vitest';
import { watchRollbackAdapter } from '../src/app/alert-rollback.js';
import type { RollbackRequest } from '../src/watch/rollback-request.js';

describe('the alert receivers’ rollback port over the watch’s rollback path', () => {
  it('dates the decision by the injected clock, not the wall clock', async () => {
    const asked: RollbackRequest[] = [];
    // The port's other side is the watch's rollback entry point: a function, recorded here.
    const port = watchRollbackAdapter(
      async (request) => {
        asked.push(request);
        return { kind: 'noop', to: 'shop-00001-good' };
      },
      () => 1_000,
    );
    const result = await port.rollback(
      {
        service: 'shop',
        reason: 'alert HighErrorRate firing',
        dryRun: false,
        alert: {
          source: 'alertmanager',
          fingerprint: 'fp1',
          name: 'HighErrorRate',
          labels: { b: '2', a: '1' },
        },
      },
      new AbortController().signal,
    );
    expect(result).toEqual({ kind: 'noop', to: 'shop-00001-good' });
    expect(asked).toEqual([
      {
        service: 'shop',
        trigger: 'alert',
        reason: 'alert HighErrorRate firing [a="1", b="2"]',
        rule: 'HighErrorRate',
        dryRun: false,
        decidedAt: 1_000,
      },
    ]);
  });
});
