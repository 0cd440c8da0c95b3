// A console line carried over a Unix socket, so that another process can use a simulated
// board's console as if it were the ST-LINK's virtual COM port: `dfu-hil sim expose` offers
// the board's console this way to the dfu-hil commands it runs, next to its USB.
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DfuHilError } from '../errors.js';
import type { UartLink } from './uart-link.js';

/** A console offered on a socket; close it when done. */
export interface ConsoleRelay {
  /** The socket to connect to. */
  readonly path: string;
  close(): Promise<void>;
}

/** The relayed console could not be reached. */
export class ConsoleRelayError extends DfuHilError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('console-open-failed', message, {
      failureClass: 'infrastructure',
      hint: 'The program offering the console (dfu-hil sim expose) has ended, or another program holds the console. Run the command again under `dfu-hil sim expose`.',
      ...options,
    });
  }
}

/**
 * Offers `link` on a new Unix socket. One client at a time, as a serial port has one owner: a
 * second connection is closed at once.
 */
export async function relayConsole(link: UartLink): Promise<ConsoleRelay> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-console-'));
  const socketPath = path.join(dir, 'console.sock');
  let client: net.Socket | undefined;
  const server = net.createServer((socket) => {
    if (client) {
      socket.destroy();
      return;
    }
    client = socket;
    const unsubscribe = link.onData((bytes) => socket.write(bytes));
    socket.on('data', (bytes: Buffer) => link.write(new Uint8Array(bytes)));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      unsubscribe();
      client = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    path: socketPath,
    close: async () => {
      client?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The far end of {@link relayConsole}: a {@link UartLink} over the socket, for the serialport
 * binding of the simulated console (createSimSerialBinding). The socket ends when the port
 * closes (its last listener goes).
 */
export async function connectRelayedConsole(socketPath: string): Promise<UartLink> {
  const socket = net.createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error) => reject(new ConsoleRelayError(`cannot reach the relayed console at ${socketPath}: ${error.message}`, { cause: error })));
  });
  const listeners = new Set<(bytes: Uint8Array) => void>();
  socket.on('data', (bytes: Buffer) => { for (const l of [...listeners]) l(new Uint8Array(bytes)); });
  socket.on('error', () => socket.destroy());
  return {
    write: (bytes) => { socket.write(bytes); },
    onData: (listener) => {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) socket.end();
      };
    },
  };
}
