/**
 * How infergate talks to etcd (membership, see scheduler/etcd-membership.ts and
 * node/etcd-registrar.ts): the client, from the settings in core/etcd-settings.ts. The client is the `etcd3`
 * package (etcd v3 over gRPC); its retries are
 * tuned here so that a gateway or node notices etcd's return within about a second, not the
 * library's 5 s half-open and 30 s watch backoff (static stability wants a quick convergence).
 */
import { readFileSync } from 'node:fs';
import { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { ETCD_MAX_RETRY_MS, type EtcdSettings } from '../core/etcd-settings.js';

/**
 * HTTP/2 pings on the etcd connection. Without them a partition that drops packets (no reset) leaves
 * the watch stream looking open until TCP gives up, minutes later, and a gateway would never call its
 * view stale (test/cluster/network-faults.test.ts). etcd refuses pings more often than its
 * --grpc-keepalive-min-time (5 s by default) with GOAWAY, so 5 s is the floor.
 */
export const ETCD_KEEPALIVE_TIME_MS = 5_000;
/** No ping answer within this: the connection is dead; the watch reports `disconnected`. */
export const ETCD_KEEPALIVE_TIMEOUT_MS = 2_000;

export function connectEtcd(settings: EtcdSettings): Etcd3 {
  const options: IOptions = {
    hosts: settings.hosts,
    dialTimeout: 1_000,
    grpcOptions: { 'grpc.keepalive_time_ms': ETCD_KEEPALIVE_TIME_MS, 'grpc.keepalive_timeout_ms': ETCD_KEEPALIVE_TIMEOUT_MS },
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: ETCD_MAX_RETRY_MS, breaker: new ConsecutiveBreaker(3) }),
      // etcd3 types this as a backoff but calls `.next()` on it first, as on its own default (a factory).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: ETCD_MAX_RETRY_MS }) as unknown as IBackoff<unknown>,
    },
    // A call to a dead etcd fails after this, instead of waiting for the TCP timeout.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + 2_000 }),
  };
  if (settings.caFile !== undefined || settings.certFile !== undefined) {
    options.credentials = {
      // No CA file: grpc-js takes null as "the system's roots".
      rootCertificate: settings.caFile !== undefined ? readFileSync(settings.caFile) : (null as unknown as Buffer),
      ...(settings.certFile !== undefined ? { certChain: readFileSync(settings.certFile), privateKey: readFileSync(settings.keyFile!) } : {}),
    };
  }
  if (settings.user !== undefined) options.auth = { username: settings.user, password: settings.password ?? '' };
  return new Etcd3(options);
}
