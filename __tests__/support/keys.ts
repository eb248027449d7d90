// Private keys for tests, made fresh per run so no key material is committed.
import { generateKeyPairSync } from 'node:crypto'

export function rsaPrivateKeyPem(): string {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' }
  }).privateKey
}

export function encryptedRsaPrivateKeyPem(): string {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: {
      type: 'pkcs1',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'not-typed-by-a-job'
    },
    publicKeyEncoding: { type: 'spki', format: 'pem' }
  }).privateKey
}
