// 7. Idle footprint (filled in once the deploy watch lands).
const BENCH = '7. Idle footprint';
const MB = 1024 * 1024;

export const idle = {
  id: 'idle',
  tools: [],
  metrics: [
    {
      bench: BENCH,
      metric: 'daemon RSS, 50 services, 5 s probes, 60 s',
      unit: 'bytes',
      target: { max: 120 * MB },
    },
    { bench: BENCH, metric: 'daemon CPU, % of one core', unit: 'percent', target: { max: 3 } },
  ],
  unavailable: () => 'the deploy watch (src/watch/) has not landed yet',
  async run() {
    return [];
  },
};
