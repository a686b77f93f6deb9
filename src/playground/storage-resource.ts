import type { StoredObject } from './storage-buckets.js';

/** An object as the JSON API shows it (int64 fields as strings, times as RFC 3339). */
export function objectResource(object: StoredObject, baseUrl: string): object {
  const path = `b/${object.bucket}/o/${encodeURIComponent(object.name)}`;
  return {
    kind: 'storage#object',
    id: `${object.bucket}/${object.name}/${object.generation}`,
    selfLink: `${baseUrl}/storage/v1/${path}`,
    mediaLink: `${baseUrl}/download/storage/v1/${path}?generation=${object.generation}&alt=media`,
    name: object.name,
    bucket: object.bucket,
    generation: String(object.generation),
    metageneration: String(object.metageneration),
    contentType: object.contentType,
    storageClass: object.storageClass,
    size: String(object.size),
    md5Hash: object.md5Hash,
    crc32c: object.crc32c,
    etag: etagOf(object),
    timeCreated: new Date(object.timeCreated).toISOString(),
    updated: new Date(object.updated).toISOString(),
    timeStorageClassUpdated: new Date(object.timeCreated).toISOString(),
    ...(Object.keys(object.metadata).length > 0 ? { metadata: object.metadata } : {}),
  };
}

export function bucketResource(name: string, project: string, baseUrl: string): object {
  return {
    kind: 'storage#bucket',
    id: name,
    selfLink: `${baseUrl}/storage/v1/b/${name}`,
    projectNumber: '0',
    name,
    metageneration: '1',
    location: 'EU',
    storageClass: 'STANDARD',
    etag: 'CAE=',
    labels: { 'playground-project': project },
  };
}

export function etagOf(object: StoredObject): string {
  return Buffer.from(`${object.generation}/${object.metageneration}`).toString('base64');
}

/**
 * Custom metadata from an upload or patch body: values become strings, as Cloud Storage stores them;
 * null (patch only) means "remove this key".
 */
export function customMetadata(value: unknown, allowNull: boolean): Record<string, string | null> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('metadata must be an object');
  const out: Record<string, string | null> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (entry === null && allowNull) out[key] = null;
    else if (entry !== null && entry !== undefined)
      out[key] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return out;
}
