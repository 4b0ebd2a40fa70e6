/**
 * How an attempt on a member ended. `cancelled`: its caller stopped waiting (client gone, deadline
 * passed); it says nothing about the node.
 */
export type ReleaseOutcome = 'ok' | 'client_error' | 'server_error' | 'transport_error' | 'cancelled';
