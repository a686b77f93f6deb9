import { request } from 'undici';
import { errorMessage } from '../core/errors.js';
import { PROBE_USER_AGENT } from './health-probe.js';

/** What a smoke check expects of one path of the candidate. */
export interface SmokeExpectation {
  /** Absolute URL (the candidate's tag URL and the check's path). */
  url: string;
  status: number;
  /** A string the body must contain; undefined: the body is not looked at. */
  bodyContains?: string | undefined;
}

export interface SmokeAnswer {
  url: string;
  ok: boolean;
  status?: number | undefined;
  /** Why it failed, for a person: "expected 200, got 500", "body does not contain ...", "TIMEOUT". */
  detail: string;
}

/** Bodies are read up to this much for `bodyContains`: a smoke check looks at a page, not a download. */
const BODY_LIMIT = 1024 * 1024;

/**
 * Smoke checks of a candidate at its tag URL (the guide's "test login and the main features"): one
 * GET each, redirects not followed (the expected status says whether one is wanted). Never throws
 * for a wrong answer or a network failure (a result with ok false); rejects only when `signal`
 * aborts. `bearer`: an ID token, as for the probes (never logged, never part of the answer).
 */
export interface SmokeChecker {
  check(
    expect: SmokeExpectation,
    timeoutMs: number,
    signal: AbortSignal,
    bearer?: string,
  ): Promise<SmokeAnswer>;
}

export class UndiciSmokeChecker implements SmokeChecker {
  async check(
    expect: SmokeExpectation,
    timeoutMs: number,
    signal: AbortSignal,
    bearer?: string,
  ): Promise<SmokeAnswer> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`smoke check timeout must be more than 0 ms, got ${timeoutMs}`);
    const timeout = AbortSignal.timeout(timeoutMs);
    const answer = (fields: Omit<SmokeAnswer, 'url'>): SmokeAnswer => ({ url: expect.url, ...fields });
    try {
      const response = await request(expect.url, {
        method: 'GET',
        signal: AbortSignal.any([signal, timeout]),
        headers: {
          'user-agent': PROBE_USER_AGENT,
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        },
      });
      const status = response.statusCode;
      if (status !== expect.status) {
        await response.body.dump({ limit: 64 * 1024 });
        return answer({ ok: false, status, detail: `expected ${expect.status}, got ${status}` });
      }
      if (expect.bodyContains === undefined) {
        await response.body.dump({ limit: 64 * 1024 });
        return answer({ ok: true, status, detail: `answered ${status}` });
      }
      const body = await readLimited(response.body);
      return body.includes(expect.bodyContains)
        ? answer({ ok: true, status, detail: `answered ${status} with the expected text` })
        : answer({
            ok: false,
            status,
            detail: `answered ${status} but the body does not contain ${JSON.stringify(expect.bodyContains)}`,
          });
    } catch (error) {
      signal.throwIfAborted();
      if (timeout.aborted) return answer({ ok: false, detail: `no answer within ${timeoutMs} ms (TIMEOUT)` });
      const code = (error as { code?: unknown }).code;
      return answer({ ok: false, detail: typeof code === 'string' ? code : errorMessage(error) });
    }
  }
}

async function readLimited(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= BODY_LIMIT) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}
