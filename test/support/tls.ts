/**
 * Test certificates (a CA, a server certificate for 127.0.0.1 and localhost, a client certificate,
 * and a stranger's CA and certificate) made with the openssl CLI; they live with the benches,
 * which tsc builds, so the TLS bench makes the same ones.
 */
export * from '../../bench/support/tls-certificates.js';
