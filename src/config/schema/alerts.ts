import { z } from 'zod';
import { duration, option } from '../types.js';

// The alert receivers: authentication of the POST endpoints, how an alert names a service and asks
// for a rollback, and how repeated deliveries are recognised.
// The credentials have no example value on purpose: a copied example file must not enable a
// publicly known token. They sit directly in `alerts` so that, all unset, the example stays valid.

const labelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, {
  error: 'expected a label name: letters, digits and _, not starting with a digit',
});

export const alertsSchema = z
  .strictObject({
    bearer_token: option(
      z.string().min(16, { error: 'expected a token of at least 16 characters' }).optional(),
      {
        description:
          'Credentials of the alert receivers and /v1/backups: accept `Authorization: Bearer <token>`. With no credential set, they refuse every request.',
        secret: true,
      },
    ),
    basic_username: option(z.string().min(1).optional(), {
      description:
        'Also (or instead) accept HTTP basic auth with this user and `basic_password` (Cloud Monitoring `webhook_basicauth` channels use it).',
    }),
    basic_password: option(
      z.string().min(12, { error: 'expected a password of at least 12 characters' }).optional(),
      {
        description: 'Password for HTTP basic auth, together with `basic_username`.',
        secret: true,
      },
    ),
    cloud_monitoring_token: option(
      z.string().min(16, { error: 'expected a token of at least 16 characters' }).optional(),
      {
        description:
          'Cloud Monitoring `webhook_tokenauth` channels: accept `?auth_token=<token>` on /v1/alerts/cloud-monitoring (only there). Use a token of its own: it travels in the URL, which the channel shows to anyone who can read it.',
        secret: true,
      },
    ),
    service_label: option(labelName.default('service'), {
      description:
        'Alertmanager: the label naming the service (its `name` in `services`, or its Cloud Run service name).',
    }),
    cloud_monitoring_service_label: option(labelName.default('service_name'), {
      description:
        "Cloud Monitoring: the label naming the service, looked up in the policy's user labels, then the metric and resource labels (a Cloud Run revision's resource label is `service_name`).",
    }),
    action_label: option(labelName.default('runwarden_action'), {
      description:
        'An alert acts only when it carries this label with the value `action_value`; others are ignored.',
    }),
    action_value: option(z.string().min(1).default('rollback'), {
      description: 'The value of `action_label` that asks for a rollback.',
    }),
    dedupe_window: option(duration.prefault('7d'), {
      description:
        'How long a delivered alert (Alertmanager fingerprint and start time, Cloud Monitoring incident id) is remembered, so a repeated delivery acts once. A repeat of an alert that was refused (cooldown, frozen, busy, no known good revision) is decided again.',
    }),
    max_concurrent_requests: option(z.number().int().min(1).max(1024).default(16), {
      description:
        'Most webhook requests (alert receivers and /v1/backups together) handled at once; beyond it a request gets 503 with `Retry-After` before its body is read. A request waiting for its rollback or backup holds its place.',
    }),
    dry_run: option(z.boolean().default(false), {
      description:
        'Record and announce what an alert would do, but never change traffic (services in `mode: dry-run` are always dry runs).',
    }),
  })
  .superRefine((alerts, context) => {
    if ((alerts.basic_username === undefined) !== (alerts.basic_password === undefined))
      context.addIssue({
        code: 'custom',
        path: [alerts.basic_username === undefined ? 'basic_username' : 'basic_password'],
        message: 'basic auth needs both basic_username and basic_password',
      });
  })
  .prefault({});

export type AlertsConfig = z.output<typeof alertsSchema>;
/** The credentials part of the alerts section. */
export type WebhookAuthConfig = Pick<
  AlertsConfig,
  'bearer_token' | 'basic_username' | 'basic_password' | 'cloud_monitoring_token'
>;
