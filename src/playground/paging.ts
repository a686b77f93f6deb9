import { invalid } from './playground-error.js';

/**
 * Cuts one page out of `items` for a List call. Page tokens are opaque to clients (base64 of an
 * offset); a token the emulator did not issue is refused with INVALID_ARGUMENT, as Google does.
 */
export function page<T>(
  items: readonly T[],
  request: { pageSize?: number | null; pageToken?: string | null },
  limits: { defaultSize: number; maxSize: number },
): { items: T[]; nextPageToken: string } {
  const size =
    request.pageSize && request.pageSize > 0
      ? Math.min(request.pageSize, limits.maxSize)
      : limits.defaultSize;
  const offset = request.pageToken ? decodeToken(request.pageToken) : 0;
  const end = offset + size;
  return {
    items: items.slice(offset, end),
    nextPageToken: end < items.length ? encodeToken(end) : '',
  };
}

function encodeToken(offset: number): string {
  return Buffer.from(`page:${offset}`).toString('base64url');
}

function decodeToken(token: string): number {
  const match = /^page:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match) throw invalid(`pageToken "${token}" was not issued by this server`);
  return Number(match[1]);
}
