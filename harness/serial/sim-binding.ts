// The package's ESM entry ships no types; its CommonJS entry does.
import type {
  BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus, SetOptions, UpdateOptions,
} from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { DfuHilError } from '../errors.js';
import type { SimPortIdentity, UartLink } from './uart-link.js';

/** The simulated port could not be opened or used. */
export class SimSerialError extends DfuHilError {
  /** Set on errors of reads and writes cut short by close(), as @serialport/stream expects. */
  canceled?: boolean;

  constructor(code: string, message: string, hint: string, canceled = false) {
    super(code, message, { hint });
    if (canceled) this.canceled = true;
  }
}

/** The baud rate the simulated console runs at; any other setting would garble every byte. */
export const SIM_CONSOLE_BAUD = 115200;

/** One open simulated port: bytes from the link queue until the stream reads them. */
class SimSerialPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private received: Buffer[] = [];
  private pendingRead: { resolve: (n: number) => void; reject: (e: Error) => void; buffer: Buffer; offset: number; length: number } | undefined;
  private readonly unsubscribe: () => void;
  private baudRate: number;

  constructor(options: Required<OpenOptions>, private readonly link: UartLink, private readonly onClose: () => void) {
    this.openOptions = options;
    this.baudRate = options.baudRate;
    this.unsubscribe = link.onData((bytes) => this.receive(bytes));
  }

  async close(): Promise<void> {
    if (!this.isOpen) throw new SimSerialError('serial-not-open', `${this.openOptions.path} is not open`, 'Open the port before closing it.');
    this.isOpen = false;
    this.unsubscribe();
    this.received = [];
    this.onClose();
    const read = this.pendingRead;
    this.pendingRead = undefined;
    read?.reject(new SimSerialError('serial-closed', `read on ${this.openOptions.path} cancelled: the port was closed`, 'Expected after close().', true));
  }

  read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    if (!this.isOpen) return Promise.reject(new SimSerialError('serial-closed', `read on closed ${this.openOptions.path}`, 'Open the port first.', true));
    if (this.pendingRead) return Promise.reject(new SimSerialError('serial-busy', `a read on ${this.openOptions.path} is already pending`, 'Wait for the previous read.'));
    return new Promise<number>((resolve, reject) => {
      this.pendingRead = { resolve, reject, buffer, offset, length };
      this.serveRead();
    }).then((bytesRead) => ({ buffer, bytesRead }));
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw new SimSerialError('serial-closed', `write on closed ${this.openOptions.path}`, 'Open the port first.', true);
    // A host at the wrong baud rate would put framing garbage on the target's RX; the
    // simulation refuses instead of inventing that garbage.
    if (this.baudRate !== SIM_CONSOLE_BAUD) {
      throw new SimSerialError('serial-baud', `${this.openOptions.path} is at ${this.baudRate} baud; the simulated console runs at ${SIM_CONSOLE_BAUD}`, `Open the port with baudRate: ${SIM_CONSOLE_BAUD}.`);
    }
    this.link.write(Uint8Array.from(buffer));
  }

  async update(options: UpdateOptions): Promise<void> {
    if (!Number.isInteger(options.baudRate) || options.baudRate <= 0) {
      throw new SimSerialError('serial-baud', `baud rate ${String(options.baudRate)} is not a positive integer`, 'Pass a standard baud rate such as 115200.');
    }
    this.baudRate = options.baudRate;
  }

  async set(_options: SetOptions): Promise<void> {}

  async get(): Promise<PortStatus> {
    // The ST-LINK VCP has no modem lines; report them idle.
    return { cts: false, dsr: false, dcd: false };
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.baudRate };
  }

  async flush(): Promise<void> {
    this.received = [];
  }

  async drain(): Promise<void> {
    await this.link.drain?.();
  }

  private receive(bytes: Uint8Array): void {
    if (!this.isOpen || bytes.length === 0) return;
    this.received.push(Buffer.from(bytes));
    this.serveRead();
  }

  private serveRead(): void {
    const read = this.pendingRead;
    if (!read || this.received.length === 0) return;
    let n = 0;
    while (n < read.length && this.received.length > 0) {
      const head = this.received[0]!;
      const take = Math.min(head.length, read.length - n);
      head.copy(read.buffer, read.offset + n, 0, take);
      n += take;
      if (take === head.length) this.received.shift();
      else this.received[0] = head.subarray(take);
    }
    this.pendingRead = undefined;
    read.resolve(n);
  }
}

/**
 * A @serialport/bindings-interface binding for one simulated board's console. Each board gets
 * its own binding (no global registry), so two boards never share state. The port stays open
 * while the target resets, as an ST-LINK virtual COM port does. Without `identity` the port
 * opens under any path and `list()` is empty.
 */
export function createSimSerialBinding(link: UartLink, identity?: SimPortIdentity): BindingInterface {
  let open: SimSerialPort | undefined;
  return {
    async list(): Promise<PortInfo[]> {
      if (!identity) return [];
      return [{
        path: identity.path,
        manufacturer: identity.manufacturer,
        serialNumber: identity.serialNumber,
        pnpId: undefined,
        locationId: identity.locationId,
        vendorId: identity.vendorId,
        productId: identity.productId,
      }];
    },
    async open(options: OpenOptions): Promise<BindingPortInterface> {
      if (identity && options.path !== identity.path) {
        throw new SimSerialError('serial-no-port', `no simulated port at "${options.path}"; this binding serves "${identity.path}"`, 'Use the path the rig reports for this board.');
      }
      if (open?.isOpen) {
        throw new SimSerialError('serial-busy', `${options.path} is already open (access denied)`, 'Close the other handle first; a port has one owner at a time.');
      }
      const full: Required<OpenOptions> = {
        dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true,
        ...options,
      };
      open = new SimSerialPort(full, link, () => { open = undefined; });
      return open;
    },
  };
}
