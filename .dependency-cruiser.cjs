/**
 * The layers, checked by `npm run lint` (and so by CI). Imports go down:
 *   entry points (cli/, demo/)  ->  app/ (composition)  ->  features (backup/, restore/, watch/, alerts/)
 *   ->  adapters (archive/, cloudrun/, signals/, storage/, notify/, http/, lock/, telemetry/, google/,
 *       daemon/, lease/) and store/  ->  core/, events/ and helpers (util/, version.ts).
 * Each rule says why it exists; an exception is written next to its rule, with its reason.
 */
const feature = '^src/(backup|restore|watch|alerts)/';
const adapter = '^src/(archive|cloudrun|signals|storage|notify|http|lock|telemetry|google|daemon|offsite|lease)/';
const above = '^src/(app|cli|demo)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle makes load order matter and hides which part owns what.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'core/ holds pure decisions tested without I/O: it imports nothing of the project but itself.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'events-are-a-leaf',
      comment: 'The event vocabulary is imported by jobs, notify and telemetry, so it imports none of them.',
      severity: 'error',
      from: { path: '^src/events/' },
      to: { path: '^src/', pathNot: '^src/(events|core)/' },
    },
    {
      name: 'store-below-features',
      comment: 'The store persists what features decide; it knows core types and helpers only.',
      severity: 'error',
      from: { path: '^src/store/' },
      to: { path: '^src/', pathNot: '^src/(store|core|events|util)/|^src/version\\.ts$' },
    },
    {
      name: 'helpers-are-leaves',
      comment: 'util/ holds helpers everyone shares (sleep, liveness, durable files); they know nothing of runwarden.',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: '^src/(util|core)/' },
    },
    {
      name: 'config-below-everything',
      comment: 'Every layer reads the config schema, so the schema imports nothing but core and helpers.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|core|util)/|^src/version\\.ts$' },
    },
    {
      name: 'adapters-never-import-use-cases',
      comment: 'An adapter talks to one outside system for whoever calls it; it must not reach back up into a job.',
      severity: 'error',
      from: { path: adapter },
      to: { path: `${feature}|${above}` },
    },
    {
      name: 'features-do-not-import-each-other',
      comment: 'Features meet only in app/, through ports: a backup never loads the deploy watch, and so on.',
      severity: 'error',
      from: { path: '^src/(backup|restore|watch|alerts)/' },
      to: { path: feature, pathNot: '^src/$1/' },
    },
    {
      name: 'nothing-below-imports-app-or-entry-points',
      comment: 'app/ wires the features together; only entry points use it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(app|cli|demo)/' },
      to: { path: above },
    },
    {
      name: 'playground-only-in-demo',
      comment: 'The emulator is for the demo and tests: production code never loads it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(playground|demo)/|^src/cli/commands/playground\\.ts$' },
      to: { path: '^src/playground/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|test|bench)/' },
  },
};
