import * as grpc from '@grpc/grpc-js';

/** Where the emulator's gRPC server listens. */
export interface EmulatorEndpoint {
  host: string;
  port: number;
}

/**
 * Constructor options for the real ServicesClient, RevisionsClient and MetricServiceClient so they
 * talk to the emulator: plain-text gRPC to `endpoint`. With channel credentials given, google-gax
 * sends no OAuth token at all, so no credentials are needed; the explicit universe domain keeps gax
 * from asking google-auth-library (and so a metadata server) which universe it is in.
 */
export function emulatorClientOptions(endpoint: EmulatorEndpoint): {
  apiEndpoint: string;
  port: number;
  sslCreds: grpc.ChannelCredentials;
  universeDomain: string;
} {
  return {
    apiEndpoint: endpoint.host,
    port: endpoint.port,
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  };
}

/**
 * Constructor options for the real `Storage` client of @google-cloud/storage so it talks to the
 * playground's Cloud Storage emulator: plain HTTP to `url`. A custom endpoint makes the client send
 * no credentials at all (unless `useAuthWithCustomEndpoint`), so no Application Default Credentials
 * are looked for.
 */
export function storageEmulatorOptions(storage: { url: string; project: string }): {
  apiEndpoint: string;
  projectId: string;
} {
  return { apiEndpoint: storage.url, projectId: storage.project };
}
