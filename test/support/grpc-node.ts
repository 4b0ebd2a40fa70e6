/**
 * An embedded node with its gRPC door on a free loopback port and a test client for it: what the
 * gRPC door tests share.
 */
import { DEFAULT_GRPC_MAX_MESSAGE_BYTES } from '../../core/kserve-grpc-envelope.js';
import { startGrpcServer, type GrpcDoor } from '../../gateway/grpc/server.js';
import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from './embedded-server.js';
import { GrpcTestClient } from './grpc-client.js';

export interface GrpcNode {
  server: EmbeddedServer;
  door: GrpcDoor;
  client: GrpcTestClient;
  close(): Promise<void>;
}

export async function startGrpcNode(options: EmbeddedServerOptions = {}): Promise<GrpcNode> {
  const server = await startEmbeddedServer(options);
  const door = await startGrpcServer({ service: server.node.service, host: '127.0.0.1', port: 0, maxMessageBytes: DEFAULT_GRPC_MAX_MESSAGE_BYTES });
  const client = new GrpcTestClient(`127.0.0.1:${door.port}`);
  return {
    server, door, client,
    close: async () => {
      client.close();
      await door.close();
      await server.close();
    },
  };
}
