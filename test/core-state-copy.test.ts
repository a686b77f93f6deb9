import { describe, expect, it } from 'vitest';
import {
  checkCopySchema,
  decodeStateCopy,
  encodeStateCopy,
  restoreDecision,
} from '../src/core/state-copy.js';

const header = {
  schemaVersion: 10,
  writtenAt: Date.UTC(2026, 0, 2, 3, 4, 5),
  holder: 'vm-a:42',
  runwarden: '1.2.3',
};

describe('state copy format', () => {
  it('round-trips the header and the image bytes', () => {
    const image = Buffer.from([0, 1, 2, 10, 13, 255]);
    const decoded = decodeStateCopy(encodeStateCopy(header, image), 'state/watch.sqlite');
    expect(decoded.header).toEqual(header);
    expect(decoded.image.equals(image)).toBe(true);
  });

  it('names what is wrong with something that is not a copy', () => {
    const name = 'state/watch.sqlite';
    expect(() => decodeStateCopy(Buffer.from('SQLite format 3\0'), name)).toThrow(
      /state\/watch.sqlite .*start with/,
    );
    expect(() => decodeStateCopy(Buffer.from('RWSTATE1\n{"schema_version":'), name)).toThrow(
      /header line has no end/,
    );
    expect(() => decodeStateCopy(Buffer.from('RWSTATE1\nnope\n'), name)).toThrow(/header is not JSON/);
    expect(() =>
      decodeStateCopy(
        Buffer.from('RWSTATE1\n{"schema_version":"10","written_at":"2026-01-01T00:00:00Z"}\n'),
        name,
      ),
    ).toThrow(/schema_version a positive integer, got "10"/);
    expect(() =>
      decodeStateCopy(Buffer.from('RWSTATE1\n{"schema_version":3,"written_at":"soon"}\n'), name),
    ).toThrow(/written_at a time, got "soon"/);
  });

  it('refuses a copy of a newer store schema, naming both versions', () => {
    expect(() => checkCopySchema({ ...header, schemaVersion: 11 }, 10, 'state/watch.sqlite')).toThrow(
      expect.objectContaining({
        code: 'RW_STATE_COPY_TOO_NEW',
        message: expect.stringMatching(/version 11 .* up to 10/),
      }),
    );
    expect(() => checkCopySchema(header, 10, 'x')).not.toThrow();
    expect(() => checkCopySchema({ ...header, schemaVersion: 4 }, 10, 'x')).not.toThrow();
  });
});

describe('restoreDecision', () => {
  it('keeps the local state when the bucket has no copy', () => {
    expect(restoreDecision({ hasState: true, copiedGeneration: undefined }, undefined)).toEqual({
      kind: 'none',
      why: 'no_copy',
    });
    expect(restoreDecision({ hasState: false, copiedGeneration: undefined }, undefined).kind).toBe('none');
  });

  it('restores into an empty store whatever it last copied', () => {
    expect(restoreDecision({ hasState: false, copiedGeneration: 5 }, 5)).toEqual({
      kind: 'restore',
      why: 'empty',
    });
  });

  it('keeps the local state when the copy is the one it wrote or restored', () => {
    expect(restoreDecision({ hasState: true, copiedGeneration: 5 }, 5)).toEqual({
      kind: 'none',
      why: 'same_copy',
    });
  });

  it('restores a copy another leader wrote after this store last synced, or when it never synced', () => {
    expect(restoreDecision({ hasState: true, copiedGeneration: 5 }, 9)).toEqual({
      kind: 'restore',
      why: 'newer',
    });
    expect(restoreDecision({ hasState: true, copiedGeneration: undefined }, 9)).toEqual({
      kind: 'restore',
      why: 'newer',
    });
  });
});
