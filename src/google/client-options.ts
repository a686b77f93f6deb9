import * as grpc from '@grpc/grpc-js';

/** Where a Google API is reached; both fields come from the `cloud_run:` / `monitoring:` config. */
export interface ApiEndpointConfig {
  endpoint?: string | undefined;
  insecure: boolean;
}

/**
 * Constructor options for a Google client library (ServicesClient, MetricServiceClient...). Without
 * an endpoint: the library's defaults (Google's endpoint, Application Default Credentials). With
 * `insecure`: plain-text gRPC and no OAuth token, which only a local emulator accepts; the explicit
 * universe domain keeps the library from asking a metadata server which universe it is in.
 */
export interface GoogleClientOptions {
  [key: string]: string | number | object | undefined;
  apiEndpoint?: string;
  port?: number;
  sslCreds?: grpc.ChannelCredentials;
  universeDomain?: string;
}

export function googleClientOptions(api: ApiEndpointConfig): GoogleClientOptions {
  if (!api.endpoint) return {};
  const colon = api.endpoint.lastIndexOf(':');
  const host = api.endpoint.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(api.endpoint.slice(colon + 1));
  const base = { apiEndpoint: host, port };
  return api.insecure
    ? { ...base, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' }
    : base;
}
