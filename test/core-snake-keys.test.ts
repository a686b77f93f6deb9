import { describe, expect, it } from 'vitest';
import { snakeCase, snakeKeys } from '../src/core/snake-keys.js';

describe('snakeKeys', () => {
  it('converts field names at every depth, in arrays too', () => {
    expect(
      snakeKeys({ restorePoint: { schemaChanged: false, takenAt: 1 }, entries: [{ watchId: 3 }], ok: true }),
    ).toEqual({
      restore_point: { schema_changed: false, taken_at: 1 },
      entries: [{ watch_id: 3 }],
      ok: true,
    });
  });

  it('keeps digits with their word and splits acronyms', () => {
    expect(['archiveSha256', 'grpcEndpoint', 'HTTPStatus', 'already_snake', 'v2Name'].map(snakeCase)).toEqual(
      ['archive_sha256', 'grpc_endpoint', 'http_status', 'already_snake', 'v2_name'],
    );
  });

  it('passes values through: strings are data, a Date stays a Date for JSON to format', () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const converted = snakeKeys({ startedAt: at, reason: 'someValue', tags: ['camelCase'] }) as Record<
      string,
      unknown
    >;
    expect(converted).toEqual({ started_at: at, reason: 'someValue', tags: ['camelCase'] });
    expect(JSON.stringify(converted)).toBe(
      '{"started_at":"2026-01-02T03:04:05.000Z","reason":"someValue","tags":["camelCase"]}',
    );
  });
});
