import { execa, type ResultPromise } from 'execa';
import type { SetupPacket } from '../usb/spec.js';
import {
  BridgeEventReader, encodeAdd, encodeQuit, encodeRemove, encodeReply, type BridgeDevice, type BridgeEvent,
} from './bridge-frames.js';
import { UsbEmulationError } from './errors.js';
import type { UmockdevTools } from './umockdev-support.js';

/** One control transfer a libusb program sent to an emulated device. */
export interface ForwardedControl {
  tag: number;
  deviceId: number;
  setup: SetupPacket;
  /** OUT data stage; empty for IN transfers. */
  data: Uint8Array;
}

/** Handlers for what libusb programs do to one emulated device. */
export interface EmulatedDeviceHandlers {
  control(transfer: ForwardedControl): void;
  reset(): void;
}

/** ENODEV as a URB status: the device is not there. */
const ENODEV = 19;

/** Options of {@link UmockdevBridge.start}. */
export interface UmockdevBridgeOptions {
  /** Real milliseconds to wait for the bridge to set up its testbed. */
  startTimeoutMs?: number;
}

/**
 * The bridge process and its umockdev testbed. Programs started with {@link env} (LD_PRELOAD and
 * UMOCKDEV_DIR) see the devices added here as real USB devices on bus 1.
 */
export class UmockdevBridge {
  private readonly reader = new BridgeEventReader();
  private readonly waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly routes = new Map<number, EmulatedDeviceHandlers>();
  private readonly exitListeners = new Set<(reason: string) => void>();
  private stderr = '';
  private closed = false;
  private nextId = 1;
  private nextAddress = 2;

  private constructor(
    private readonly child: ResultPromise<{ stdin: 'pipe'; stdout: 'pipe'; stderr: 'pipe'; buffer: false; reject: false }>,
    readonly rootDir: string,
    private readonly tools: UmockdevTools,
  ) {}

  /** Starts the bridge; resolves once its testbed exists. */
  static async start(tools: UmockdevTools, options: UmockdevBridgeOptions = {}): Promise<UmockdevBridge> {
    const child = execa(tools.bridge, [], {
      stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false,
      // The bridge sends uevents through libudev, which only the preload library can fake.
      env: { LD_PRELOAD: tools.preloadLibrary, UMOCKDEV_DIR: undefined }, extendEnv: true,
    });
    const reader = new BridgeEventReader();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const rootDir = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { child.kill(); reject(new UsbEmulationError(`the umockdev bridge did not start within ${options.startTimeoutMs ?? 10_000} ms${stderr ? `: ${stderr.trim()}` : ''}`)); }, options.startTimeoutMs ?? 10_000);
      const onData = (chunk: Buffer): void => {
        const ready = reader.push(chunk).find((e) => e.type === 'ready');
        if (ready?.type === 'ready') { clearTimeout(timer); child.stdout.off('data', onData); resolve(ready.rootDir); }
      };
      child.stdout.on('data', onData);
      void child.then((result) => {
        clearTimeout(timer);
        reject(new UsbEmulationError(`the umockdev bridge exited at start (code ${result.exitCode ?? result.signal})${stderr ? `: ${stderr.trim()}` : ''}`));
      });
    });
    const bridge = new UmockdevBridge(child, rootDir, tools);
    bridge.stderr = stderr;
    child.stderr.on('data', (chunk: Buffer) => {
      bridge.stderr = (bridge.stderr + chunk.toString()).slice(-8000);
      // DFU_HIL_DEBUG_UMOCKDEV=1 shows what the bridge and umockdev say (with UMOCKDEV_DEBUG=all, a lot).
      if (process.env.DFU_HIL_DEBUG_UMOCKDEV) process.stderr.write(`[umockdev-bridge] ${chunk.toString()}`);
    });
    child.stdout.on('data', (chunk: Buffer) => bridge.onData(chunk));
    void child.then((result) => bridge.exited(result.exitCode, result.signal));
    return bridge;
  }

  /** Environment that makes a child process (dfu-util, fwupdtool, a test worker) see the emulated bus. */
  env(): Record<string, string> {
    return { LD_PRELOAD: `${this.tools.preloadLibrary}:${this.tools.seekShim}`, UMOCKDEV_DIR: this.rootDir };
  }

  /** True until the bridge is closed or has died. */
  get running(): boolean {
    return !this.closed;
  }

  /** Calls `listener` if the bridge dies on its own (crash, killed); returns an unsubscribe. */
  onExit(listener: (reason: string) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /**
   * Puts a device on bus 1 at the next free address, as a hub would; resolves with its id and
   * address once udev has announced it.
   */
  async add(device: Omit<BridgeDevice, 'id' | 'address' | 'busNumber'>, handlers: EmulatedDeviceHandlers): Promise<{ id: number; busNumber: number; address: number }> {
    const id = this.nextId++;
    const address = this.nextAddress;
    this.nextAddress = address >= 127 ? 2 : address + 1;
    this.routes.set(id, handlers);
    try {
      await this.request(`added:${id}`, encodeAdd({ ...device, id, busNumber: 1, address }));
    } catch (error) {
      this.routes.delete(id);
      throw error;
    }
    return { id, busNumber: 1, address };
  }

  /** Takes a device off the bus: transfers in flight fail, later ones get ENODEV. */
  async remove(id: number): Promise<void> {
    this.routes.delete(id);
    await this.request(`removed:${id}`, encodeRemove(id));
  }

  /** Completes a forwarded control transfer; `status` is 0 or a negated errno (-EPIPE for a STALL). */
  reply(tag: number, status: number, data?: Uint8Array): void {
    this.write(encodeReply(tag, status, data));
  }

  /** Removes every device, deletes the testbed and ends the bridge. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.write(encodeQuit());
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.child;
    clearTimeout(timer);
  }

  private request(key: string, frame: Buffer): Promise<void> {
    if (this.closed) return Promise.reject(new UsbEmulationError('the umockdev bridge has stopped'));
    return new Promise((resolve, reject) => {
      this.waiting.set(key, { resolve, reject });
      this.write(frame);
    });
  }

  private write(frame: Buffer): void {
    if (!this.child.stdin.writable) return;
    this.child.stdin.write(frame);
  }

  private onData(chunk: Buffer): void {
    let events: BridgeEvent[];
    try {
      events = this.reader.push(chunk);
    } catch (error) {
      this.failAll(new UsbEmulationError(`the umockdev bridge sent garbage: ${(error as Error).message}`));
      this.child.kill();
      return;
    }
    for (const e of events) this.dispatch(e);
  }

  private dispatch(e: BridgeEvent): void {
    switch (e.type) {
      case 'control': {
        const route = this.routes.get(e.id);
        if (route) route.control({ tag: e.tag, deviceId: e.id, setup: e.setup, data: e.data });
        else this.reply(e.tag, -ENODEV);
        break;
      }
      case 'reset': this.routes.get(e.id)?.reset(); break;
      case 'added': case 'removed': {
        const key = `${e.type}:${e.id}`;
        this.waiting.get(key)?.resolve();
        this.waiting.delete(key);
        break;
      }
      case 'failed': {
        const key = `added:${e.id}`;
        this.waiting.get(key)?.reject(new UsbEmulationError(`umockdev could not add emulated device ${e.id}: ${e.message}`));
        this.waiting.delete(key);
        break;
      }
      case 'ready': break;
    }
  }

  private exited(code: number | undefined, signal: string | undefined): void {
    const reason = `the umockdev bridge exited (${code !== undefined ? `code ${code}` : `signal ${signal}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`;
    this.failAll(new UsbEmulationError(reason));
    if (!this.closed) {
      this.closed = true;
      for (const l of [...this.exitListeners]) l(reason);
    }
  }

  private failAll(error: Error): void {
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
  }
}
