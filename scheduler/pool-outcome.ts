/**
 * How an attempt on a member ended. `cancelled`: its caller stopped waiting (client gone, deadline
 * passed); it says nothing about the node. `overloaded`: the node answered 503 (queue full,
 * draining, unloading): it is alive and answering, so its circuit breaker does not count it.
 */
export type ReleaseOutcome = 'ok' | 'client_error' | 'server_error' | 'transport_error' | 'cancelled' | 'overloaded';
