// 6. Alert to action (filled in once the alert webhook's rollback path lands).
const BENCH = '6. Alert to action';

export const alert = {
  id: 'alert',
  tools: [],
  metrics: [
    { bench: BENCH, metric: 'webhook received to UpdateService sent p50', unit: 'ms' },
    { bench: BENCH, metric: 'webhook received to UpdateService sent p99', unit: 'ms', target: { max: 20 } },
    { bench: BENCH, metric: 'rollbacks per incident', unit: 'count', target: { max: 1 } },
  ],
  unavailable: () => 'the alert webhook rollback path has not landed yet',
  async run() {
    return [];
  },
};
