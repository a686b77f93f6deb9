import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Encrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { ageRecipientProblem } from '../src/core/age-recipient.js';
import { problemsOf } from './helpers/config-problems.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('runwarden-offsite-encryption-config-');

function load(yaml: string) {
  const dir = path.join(tempDir(), 'etc');
  mkdirSync(dir);
  const file = path.join(dir, 'runwarden.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ path: file, env: {} }).config;
}

const withRecipients = (list: string) =>
  `backup:\n  offsite:\n    bucket: b-1\n    encryption:\n      recipients: ${list}\n`;

/** Whether age-encryption itself takes `text` as an X25519 recipient. */
function ageTakes(text: string): boolean {
  try {
    new Encrypter().addRecipient(text);
    return true;
  } catch {
    return false;
  }
}

describe('backup.offsite.encryption.recipients', () => {
  it('takes age X25519 recipients as age-keygen prints them', async () => {
    const recipients = [
      await identityToRecipient(await generateX25519Identity()),
      await identityToRecipient(await generateX25519Identity()),
    ];
    const { offsite } = load(withRecipients(JSON.stringify(recipients))).backup;
    expect(offsite?.encryption).toEqual({ recipients });
  });

  it('refuses each bad recipient, naming its place and its value', async () => {
    const good = await identityToRecipient(await generateX25519Identity());
    const typo = `${good.slice(0, 20)}${good[20] === 'q' ? 'p' : 'q'}${good.slice(21)}`;
    const problems = problemsOf(() =>
      load(
        withRecipients(JSON.stringify([good, typo, 'age1short', 'AGE-SECRET-KEY-1ABC', 'ssh-ed25519 AAAA'])),
      ),
    );
    expect(problems).toEqual([
      `backup.offsite.encryption.recipients[1]: expected an age X25519 recipient (age1...): its checksum does not match (a mistyped character?), got ${JSON.stringify(typo)}`,
      'backup.offsite.encryption.recipients[2]: expected an age X25519 recipient (age1...): an age X25519 recipient is 62 characters, got "age1short"',
      'backup.offsite.encryption.recipients[3]: expected an age X25519 recipient (age1...): that is a secret key (an identity): give its public key, age1..., got "AGE-SECRET-KEY-1ABC"',
      'backup.offsite.encryption.recipients[4]: expected an age X25519 recipient (age1...): SSH keys are not taken: give an age recipient (age-keygen -y KEYFILE), got "ssh-ed25519 AAAA"',
    ]);
  });

  it('an empty list or a missing one is refused: encryption needs a key', () => {
    expect(problemsOf(() => load(withRecipients('[]')))).toEqual([
      'backup.offsite.encryption.recipients: expected at least one age recipient (age1...); remove `encryption` to copy unencrypted',
    ]);
    expect(problemsOf(() => load('backup:\n  offsite:\n    bucket: b-1\n    encryption: {}\n'))).toEqual([
      expect.stringMatching(/^backup\.offsite\.encryption\.recipients: /),
    ]);
  });

  it('the check agrees with age-encryption on real recipients and on every one-character typo of one', async () => {
    const recipient = await identityToRecipient(await generateX25519Identity());
    expect(ageRecipientProblem(recipient)).toBeUndefined();
    expect(ageTakes(recipient)).toBe(true);
    for (let at = 4; at < recipient.length; at++) {
      const swapped = recipient[at] === 'q' ? 'p' : 'q';
      const typo = `${recipient.slice(0, at)}${swapped}${recipient.slice(at + 1)}`;
      expect([at, ageRecipientProblem(typo) === undefined]).toEqual([at, ageTakes(typo)]);
      expect(ageRecipientProblem(typo)).toBeDefined();
    }
    // Upper case is Bech32's other spelling; age prints lower case and so does the check.
    expect(ageRecipientProblem(recipient.toUpperCase())).toBeDefined();
  });
});
