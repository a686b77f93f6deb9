import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Command } from 'commander';
import { listenAddress } from '../../config/types.js';
import { localUrl } from '../../core/local-url.js';
import { FatalError, UsageError } from '../../core/errors.js';
import { type GlobalOptions, loadFromOptions, withConfigPathOption } from '../common.js';

interface HealthcheckOptions extends GlobalOptions {
  address?: string;
  timeout: string;
}

/**
 * `runwarden healthcheck`: what a container's HEALTHCHECK runs. It asks this host's daemon for
 * /healthz over the protocol the config serves (https when `server.tls` is set, which a plain
 * `fetch('http://...')` fails against), exits 0 when it answers 200 and 1 otherwise.
 */
export function registerHealthcheck(program: Command): void {
  withConfigPathOption(program.command('healthcheck'))
    .description('exit 0 when this host’s daemon answers /healthz, 1 when not (for HEALTHCHECK)')
    .option('--address <host:port>', 'where the daemon listens (default: server.address)')
    .option('--timeout <ms>', 'give up after this many milliseconds', '3000')
    .action(async (options: HealthcheckOptions) => {
      const { config } = loadFromOptions(options);
      const address = options.address ?? config.server.address;
      if (options.address !== undefined && !listenAddress.safeParse(address).success)
        throw new UsageError(`--address: expected host:port like 127.0.0.1:9464, got "${address}"`);
      const timeoutMs = Number(options.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
        throw new UsageError(`--timeout: expected a whole number of milliseconds, got "${options.timeout}"`);
      const url = localUrl(address, config.server.tls !== undefined, '/healthz');
      if (url === undefined)
        throw new UsageError(
          `server.address ${address} has port 0 (picked at start): pass the daemon's address with --address`,
        );
      const status = await getStatus(url, timeoutMs);
      if (status !== 200) throw new FatalError('RW_UNHEALTHY', `${url} answered ${status}, not 200`);
      process.stdout.write(`${url}: ok\n`);
    });
}

/** The status of a GET, or a FatalError naming the URL when there is no answer in time. */
function getStatus(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (problem: string) => reject(new FatalError('RW_UNHEALTHY', `${url}: ${problem}`));
    // The daemon's own certificate names its public host, not 127.0.0.1, and may be self-signed:
    // this asks our own process over loopback whether it answers, so who it is is not in question.
    const options = { timeout: timeoutMs, rejectUnauthorized: false };
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, options, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => {
      req.destroy();
      fail(`no answer within ${timeoutMs} ms`);
    });
    req.on('error', (error) => fail(error.message));
    req.end();
  });
}
