// 5. Time to rollback on the emulator (filled in once the deploy watch lands).
const BENCH = '5. Time to rollback';

export const rollback = {
  id: 'rollback',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'detection p50', unit: 'ms' },
    { bench: BENCH, metric: 'detection p99', unit: 'ms' },
    { bench: BENCH, metric: 'action p50 (trip to UpdateService sent)', unit: 'ms' },
    { bench: BENCH, metric: 'action p99 (trip to UpdateService sent)', unit: 'ms', target: { max: 50 } },
    { bench: BENCH, metric: 'whole p50 (failing to 100 % stable)', unit: 'ms' },
    { bench: BENCH, metric: 'whole p99 (failing to 100 % stable)', unit: 'ms', target: { max: 4000 } },
  ],
  unavailable: () => 'the deploy watch (src/watch/) has not landed yet',
  async run() {
    return [];
  },
};
