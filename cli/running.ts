/** A started server process: where it listens and how to stop it cleanly. */
export interface RunningGateway {
  url: string;
  stop(): Promise<void>;
}
