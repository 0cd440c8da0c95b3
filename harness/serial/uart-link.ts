// What the serial layer needs from a simulated board's console, structurally, so that
// harness/serial never imports the simulator.

/** The host end of a simulated UART (the ST-LINK virtual COM port of a simulated board). */
export interface UartLink {
  /** Sends bytes towards the target. */
  write(bytes: Uint8Array): void;
  /** Calls `listener` with every chunk of bytes from the target; returns an unsubscribe. */
  onData(listener: (bytes: Uint8Array) => void): () => void;
  /** Resolves once the bytes written so far have reached the target. */
  drain?(): Promise<void>;
}

/** How the port presents itself in `list()`; every field but `path` may be absent. */
export interface SimPortIdentity {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
  locationId?: string;
}
