import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { UsageError } from '../../core/errors.js';
import {
  describePlayground,
  DEFAULT_SCENARIO,
  type Playground,
  startPlayground,
} from '../../playground/index.js';
import { createLogger } from '../../telemetry/logger.js';
import { withJsonOption } from '../common.js';
import { onStopSignals } from '../interrupt.js';
import { printResult, toYaml } from '../output.js';

interface PlaygroundOptions {
  scenario?: string;
  port: string;
  controlPort: string;
  storagePort: string;
  samplePeriod: string;
  ingestionDelay: string;
  json?: boolean;
}

export function registerPlayground(program: Command): void {
  withJsonOption(program.command('playground'))
    .description(
      'run a local Cloud Run + Cloud Monitoring (gRPC) + Cloud Storage (JSON API) emulator with real revision apps, until SIGINT/SIGTERM',
    )
    .option('--scenario <file>', 'YAML or JSON scenario: project, region, services, revisions, traffic')
    .option('--port <n>', 'gRPC port (0: any free port)', '8085')
    .option('--control-port <n>', 'control API port (0: any free port)', '8086')
    .option('--storage-port <n>', 'Cloud Storage JSON API port (0: any free port)', '8087')
    .option('--sample-period <duration>', 'Monitoring sample period', '60s')
    .option('--ingestion-delay <duration>', 'delay before a sample period shows in Monitoring', '150s')
    .action(async (options: PlaygroundOptions) => {
      const playground = await startPlayground(options.scenario ?? DEFAULT_SCENARIO, {
        grpcPort: port(options.port, '--port'),
        controlPort: port(options.controlPort, '--control-port'),
        storagePort: port(options.storagePort, '--storage-port'),
        samplePeriodMs: durationFlag(options.samplePeriod, '--sample-period'),
        ingestionDelayMs: durationFlag(options.ingestionDelay, '--ingestion-delay'),
        logger: createLogger({ level: 'warn', format: 'json', destination: process.stderr as never }),
      });
      // Pending faults are keyed by method name (data): listed, so JSON keys stay field names.
      const faults = Object.entries(playground.pendingFaults()).map(([method, calls]) => ({ method, calls }));
      printResult({ ...describePlayground(playground), faults }, options.json === true, () =>
        human(playground, options.samplePeriod),
      );
      await untilSignal();
      await playground.stop();
    });
}

function human(playground: Playground, samplePeriod: string): string {
  const endpoint = `${playground.endpoint.host}:${playground.endpoint.port}`;
  const lines = [
    `playground running: project ${playground.project}, region ${playground.region}`,
    `  gRPC endpoint (Cloud Run v2 + Monitoring v3): ${endpoint}`,
    `  control API: ${playground.controlUrl}  (GET /state, POST /deploy /behaviour /traffic /faults /drive)`,
    `  Cloud Storage JSON API: ${playground.storage.url}  (apiEndpoint; buckets: ${playground.storage.buckets().join(', ') || 'none'})`,
    `    control: GET /storage, POST /storage/buckets /storage/faults /storage/slow /storage/corrupt`,
  ];
  for (const service of playground.services()) {
    lines.push(`  service ${service}: ${playground.serviceUrl(service)}`);
    for (const target of playground.traffic(service)) {
      const tag = target.tag ? ` tag ${target.tag} ${target.uri ?? ''}` : '';
      lines.push(`    ${String(target.percent).padStart(3)}% ${target.revision}${tag}`);
    }
  }
  const config = {
    cloud_run: { endpoint, insecure: true },
    monitoring: { endpoint, insecure: true, alignment_period: samplePeriod },
    services: playground.services().map((service) => ({
      project: playground.project,
      region: playground.region,
      service,
    })),
  };
  lines.push('', 'point the daemon at it with:', toYaml(config), 'Ctrl-C stops it.');
  return lines.join('\n');
}

function port(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535) {
    throw new UsageError(`${flag}: expected a port 0..65535, got "${value}"`);
  }
  return parsed;
}

function durationFlag(value: string, flag: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`${flag}: expected a duration like "60s", got "${value}"`);
  if (flag === '--sample-period' && ms < 100) throw new UsageError(`${flag}: must be at least 100ms`);
  return ms;
}

/** The first SIGINT/SIGTERM; a second one, while the emulator stops, exits at once with code 1. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => onStopSignals(resolve));
}
