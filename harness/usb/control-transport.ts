import { readDescription, type UsbDescription } from './descriptors.js';
import { UsbError } from './errors.js';
import type { SetupPacket } from './spec.js';
import type { EnumerationRead, TransferTrace } from './trace.js';
import type { UsbDeviceInfo, UsbTransport } from './transport.js';

/**
 * What every transport does the same way: descriptors read once over control transfers, the
 * wLength check on OUT data, the label in the trace. Subclasses move the bytes.
 */
export abstract class ControlTransport implements Pick<UsbTransport, 'info' | 'trace' | 'describe' | 'controlIn' | 'controlOut'> {
  private description: UsbDescription | undefined;

  constructor(readonly info: UsbDeviceInfo, readonly trace: TransferTrace) {}

  private labelText: string | undefined;

  /** "portPath#address": one enumeration of one device, as the trace names it. */
  protected get label(): string {
    this.labelText ??= `${this.info.portPath}#${this.info.deviceAddress}`;
    return this.labelText;
  }

  async describe(): Promise<UsbDescription> {
    if (this.description) return this.description;
    // Enumeration reads are not the test's traffic: they stay out of the entries, kept apart.
    const reads: EnumerationRead[] = [];
    this.description = await readDescription(async (setup) => {
      const data = await this.transfer(setup, undefined, 1000, false);
      reads.push({ setup, data });
      return data;
    });
    this.trace.recordEnumeration(this.label, reads);
    return this.description;
  }

  controlIn(setup: SetupPacket, timeoutMs: number): Promise<Uint8Array> {
    return this.transfer(setup, undefined, timeoutMs, true);
  }

  async controlOut(setup: SetupPacket, data: Uint8Array, timeoutMs: number): Promise<void> {
    if (data.length !== setup.wLength) throw new UsbError('invalid', `wLength ${setup.wLength} but ${data.length} data bytes`);
    await this.transfer(setup, data, timeoutMs, true);
  }

  /** One control transfer: IN when `data` is undefined; recorded in the trace when `traced`. */
  protected abstract transfer(setup: SetupPacket, data: Uint8Array | undefined, timeoutMs: number, traced: boolean): Promise<Uint8Array>;
}
