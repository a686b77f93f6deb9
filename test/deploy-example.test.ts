import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config/load.js';

// The example service of shape 1 (deploy/cloud-run-sidecar.yaml) checked offline against the Cloud
// Run v2 protos the client library ships, and its runwarden config against the config schema.

const require = createRequire(import.meta.url);
const SERVICE_FILE = fileURLToPath(new URL('../deploy/cloud-run-sidecar.yaml', import.meta.url));
const CONFIG_FILE = fileURLToPath(new URL('../deploy/runwarden-sidecar.yaml', import.meta.url));

const root = protobuf.Root.fromJSON(require('@google-cloud/run/build/protos/protos.json'));
const Service = root.lookupType('google.cloud.run.v2.Service');

type Json = Record<string, unknown>;

/**
 * Every key of `value` that `type` has no field for, as paths: fromObject drops unknown keys
 * silently, so they are found by walking the message descriptors. Map fields take any key.
 */
function unknownFields(type: protobuf.Type, value: Json, at = ''): string[] {
  const unknown: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const field = type.fields[key];
    if (!field) {
      unknown.push(`${at}${key}`);
      continue;
    }
    field.resolve();
    if (!(field.resolvedType instanceof protobuf.Type) || field.map) continue;
    const items = field.repeated ? (child as Json[]) : [child as Json];
    const nested = field.resolvedType;
    items.forEach((item, index) => {
      const path = `${at}${key}${field.repeated ? `[${index}]` : ''}.`;
      unknown.push(...unknownFields(nested, item, path));
    });
  }
  return unknown;
}

const service = parse(readFileSync(SERVICE_FILE, 'utf8')) as Json;
const template = service.template as Json & { containers: Json[]; volumes: Json[] };
const container = (name: string) => template.containers.find((each) => each.name === name) as Json;

describe('deploy/cloud-run-sidecar.yaml (a v2 Service)', () => {
  it('has only fields of google.cloud.run.v2.Service, with values the protos accept', () => {
    expect(unknownFields(Service, service)).toEqual([]);
    const message = Service.fromObject(service);
    expect(Service.verify(message)).toBeNull();
    // Enum names (fromObject drops an unknown one) and values survive a round trip: nothing was dropped.
    expect(Service.toObject(message, { enums: String, longs: String, defaults: false })).toEqual(service);
  });

  it('the check catches a misspelt field and an enum name the protos do not have', () => {
    const wrong = structuredClone(service) as Json & { template: { containers: Json[] } };
    (wrong.template.containers[0] as Json).dependOn = ['runwarden'];
    wrong.ingress = 'INGRESS_TRAFFIC_EVERYONE';
    expect(unknownFields(Service, wrong)).toEqual(['template.containers[0].dependOn']);
    expect(Service.toObject(Service.fromObject(wrong), { enums: String, longs: String })).not.toHaveProperty(
      'ingress',
      'INGRESS_TRAFFIC_EVERYONE',
    );
  });

  it('sets no run.googleapis.com/* annotation (the v2 API refuses them)', () => {
    const annotations = [service.annotations, template.annotations].flatMap((each) =>
      Object.keys((each as Json | undefined) ?? {}),
    );
    expect(annotations.filter((key) => key.startsWith('run.googleapis.com/'))).toEqual([]);
  });

  it('starts the app after the sidecar, whose startup probe is /startupz, in the backup role', () => {
    const app = container('app');
    const sidecar = container('runwarden');
    expect(app.dependsOn).toEqual(['runwarden']);
    // Only the ingress container has a port.
    expect(template.containers.filter((each) => each.ports !== undefined).map((each) => each.name)).toEqual([
      'app',
    ]);
    expect(sidecar.startupProbe).toMatchObject({ httpGet: { path: '/startupz', port: 9464 } });
    expect((sidecar.args as string[]).join(' ')).toContain('daemon --role backup');
  });

  it('shares the data volume, keeps CPU outside requests and one always-on instance', () => {
    const mounts = (name: string) =>
      (container(name).volumeMounts as Json[]).map((mount) => `${mount.name}:${mount.mountPath}`);
    expect(mounts('app')).toContain('data:/data');
    expect(mounts('runwarden')).toContain('data:/data');
    const data = template.volumes.find((volume) => volume.name === 'data') as Json;
    expect(Object.keys(data)).toEqual(['name', 'nfs']);
    for (const each of template.containers) expect((each.resources as Json).cpuIdle).toBe(false);
    expect(template.scaling).toEqual({ minInstanceCount: 1, maxInstanceCount: 1 });
    // Every mount names a volume of the template.
    const volumes = new Set(template.volumes.map((volume) => volume.name));
    for (const each of template.containers)
      for (const mount of each.volumeMounts as Json[]) expect(volumes.has(mount.name)).toBe(true);
  });
});

describe('deploy/runwarden-sidecar.yaml', () => {
  it('is a valid config for the backup role, served where the startup probe looks', () => {
    const { config } = loadConfig({ path: CONFIG_FILE, env: {} });
    expect(config.role).toBe('backup');
    expect(config.server.address).toBe('0.0.0.0:9464');
    expect(config.backup.before_start).toBe('auto');
    expect(config.backup.sources.data_dir).toBe('/data');
    expect(config.backup.offsite?.bucket).toBe('shop-backups');
    const probe = container('runwarden').startupProbe as { httpGet: { port: number } };
    expect(config.server.address.endsWith(`:${probe.httpGet.port}`)).toBe(true);
    // The sidecar's folders are on the volumes the service mounts into it.
    const mounts = (container('runwarden').volumeMounts as Json[]).map((mount) => String(mount.mountPath));
    for (const folder of [config.state_dir, config.backup.dir])
      expect(mounts.some((mount) => folder.startsWith(`${mount}/`))).toBe(true);
  });
});
