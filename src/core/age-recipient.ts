/**
 * Checks an age X25519 recipient (`age1` + 58 Bech32 characters: a 32-byte public key and its
 * checksum) without loading the age library, so a config is checked synchronously, before the
 * library is ever needed. The same rule as age's own parser (BIP 173 Bech32, lowercase, HRP `age`):
 * a test holds the two to agreement.
 *
 * Returns undefined when `text` is one, else why not (a short phrase for the config message).
 */
export function ageRecipientProblem(text: string): string | undefined {
  if (text.startsWith('AGE-SECRET-KEY-'))
    return 'that is a secret key (an identity): give its public key, age1...';
  if (/^age1(pq|tag|tagpq)1/.test(text))
    return 'post-quantum and tag recipients are not taken: give an X25519 recipient (age-keygen without -pq)';
  if (text.startsWith('ssh-')) return 'SSH keys are not taken: give an age recipient (age-keygen -y KEYFILE)';
  if (!text.startsWith('age1')) return 'an age recipient starts with "age1"';
  if (text.length !== RECIPIENT_LENGTH) return `an age X25519 recipient is ${RECIPIENT_LENGTH} characters`;
  const words: number[] = [];
  for (const char of text.slice('age1'.length)) {
    const word = CHARSET.indexOf(char);
    if (word === -1)
      return `"${char}" is not a Bech32 character (lowercase letters and digits but 1, b, i, o)`;
    words.push(word);
  }
  if (polymod([...expandHrp('age'), ...words]) !== 1)
    return 'its checksum does not match (a mistyped character?)';
  // 52 five-bit words carry 260 bits: 256 of key and 4 of padding, which must be zero.
  if ((words[51] as number) & 0b1111) return 'its padding bits are not zero';
  return undefined;
}

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
/** "age1" + 52 words of key + 6 of checksum. */
const RECIPIENT_LENGTH = 4 + 52 + 6;
const GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const value of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATORS[i] as number;
  }
  return chk;
}

function expandHrp(hrp: string): number[] {
  const codes = [...hrp].map((char) => char.charCodeAt(0));
  return [...codes.map((code) => code >>> 5), 0, ...codes.map((code) => code & 31)];
}
