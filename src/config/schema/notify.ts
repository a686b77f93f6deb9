import { z } from 'zod';
import { duration, option } from '../types.js';

export const NOTIFY_EVENTS = ['rollback', 'promotion', 'alert', 'failure', 'backup_failed'] as const;

const notifyTargetSchema = z.strictObject({
  name: option(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/, { error: 'expected a name of lowercase letters, digits, - and _' }),
    {
      description: 'Name services use to pick this target.',
      example: 'ops-chat',
    },
  ),
  type: option(z.enum(['webhook', 'slack', 'google_chat']), {
    description: 'webhook: a JSON document per event; slack and google_chat: a chat message ({"text": ...}).',
    example: 'slack',
  }),
  url: option(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }), {
    description: 'Where to POST. Chat webhook URLs carry their own credentials.',
    secret: true,
    example: 'https://hooks.example.com/services/T000/B000/XXXX',
  }),
  events: option(z.array(z.enum(NOTIFY_EVENTS)).default([...NOTIFY_EVENTS]), {
    description: `Which events to send: ${NOTIFY_EVENTS.join(', ')}.`,
  }),
  timeout: option(duration.prefault('5s'), {
    description: 'Per-delivery timeout; a slow target never delays a rollback.',
  }),
});

export const notifySchema = z
  .strictObject({
    targets: option(z.array(notifyTargetSchema).default([]), {
      description: 'Where notifications go. Deliveries are retried briefly and never block the daemon.',
    }),
  })
  .prefault({});

export type NotifyTarget = z.output<typeof notifyTargetSchema>;
