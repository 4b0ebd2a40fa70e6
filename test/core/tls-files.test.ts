import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTlsFrom, serverTlsFrom } from '../../core/tls-files.js';
import { OPENSSL_MISSING, makeTestCertificates, opensslAvailable, type TestCertificates } from '../support/tls.js';
import { skipNote } from '../support/skip-reason.js';

const hasOpenssl = opensslAvailable();

describe.skipIf(!hasOpenssl)(`TLS files read at boot${skipNote(hasOpenssl ? undefined : OPENSSL_MISSING)}`, () => {
  let certs: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
  }, 30_000);
  afterAll(() => certs?.remove());

  it('reads the server pair and the client CA; nothing given is plaintext', () => {
    const tls = serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': certs.serverKey, 'tls-client-ca': certs.ca });
    expect(tls?.cert.toString()).toContain('BEGIN CERTIFICATE');
    expect(tls?.clientCa?.toString()).toContain('BEGIN CERTIFICATE');
    expect(serverTlsFrom({})).toBeUndefined();
    expect(clientTlsFrom({}, 'backend')).toBeUndefined();
    const client = clientTlsFrom({ 'backend-ca': certs.ca, 'backend-cert': certs.clientCert, 'backend-key': certs.clientKey }, 'backend');
    expect(Object.keys(client!).sort()).toEqual(['ca', 'cert', 'key']);
  });

  it('fails with the flag\'s name on a missing file, a non-PEM file, a key of another certificate, or half a pair', () => {
    const junk = path.join(certs.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    expect(() => serverTlsFrom({ 'tls-cert': path.join(certs.dir, 'missing.pem'), 'tls-key': certs.serverKey }))
      .toThrow(/--tls-cert .*missing\.pem: cannot read it \(ENOENT\)/);
    expect(() => serverTlsFrom({ 'tls-cert': junk, 'tls-key': certs.serverKey })).toThrow(/--tls-cert .*junk\.pem: not a PEM certificate/);
    expect(() => serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': junk })).toThrow(/--tls-key .*junk\.pem: not a PEM private key/);
    expect(() => serverTlsFrom({ 'tls-cert': certs.serverCert, 'tls-key': certs.clientKey }))
      .toThrow(/--tls-key .*client\.key is not the key of the certificate in --tls-cert/);
    expect(() => serverTlsFrom({ 'tls-cert': certs.serverCert })).toThrow('--tls-cert and --tls-key go together');
    expect(() => serverTlsFrom({ 'tls-client-ca': certs.ca })).toThrow('--tls-client-ca needs --tls-cert and --tls-key');
    expect(() => clientTlsFrom({ 'gateway-cert': certs.clientCert }, 'gateway')).toThrow('--gateway-cert and --gateway-key go together');
    expect(() => clientTlsFrom({ 'gateway-ca': junk }, 'gateway')).toThrow(/--gateway-ca .*junk\.pem: not a PEM certificate/);
  });
});
