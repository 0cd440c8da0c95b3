// Drives the npm `dfu` package (WebDFU, written for browsers) through the `usb` package's WebUSB
// API, as a web page would in Chrome, against whatever USB device libusb sees. Run it under the
// USB emulation: `dfu-hil sim expose -- node --import tsx npm-dfu-driver.ts <command> ...`.
//
//   list                           DFU interfaces of every device, with the functional descriptor
//   write <address> <file>         erase, write and leave, as WebDFU.write does for DfuSe devices
//   read <address> <length> <out>  read back into a file
//
// Prints one JSON line: what the client reported, events and errors included.
import { readFile, writeFile } from 'node:fs/promises';
import { WebDFU, WebDFUType } from 'dfu';
import { WebUSB } from 'usb';

type Report = Record<string, unknown>;

const log = { info: () => undefined, warning: () => undefined, progress: () => undefined };

async function firstDfuDevice(): Promise<WebDFU> {
  const webusb = new WebUSB({ allowAllDevices: true });
  for (const device of await webusb.getDevices()) {
    const dfu = new WebDFU(device, { forceInterfacesName: true }, log);
    await dfu.init();
    if (dfu.interfaces.length > 0) return dfu;
  }
  throw new Error('no USB device with a DFU interface');
}

async function list(): Promise<Report> {
  const dfu = await firstDfuDevice();
  await dfu.connect(0);
  const report = {
    vendorId: dfu.device.vendorId, productId: dfu.device.productId, serialNumber: dfu.device.serialNumber,
    interfaces: dfu.interfaces.map((i) => ({ alternate: i.alternate.alternateSetting, name: i.name })),
    properties: dfu.properties, type: dfu.type === WebDFUType.SDFUse ? 'DfuSe' : 'DFU', memory: dfu.dfuseMemoryInfo,
  };
  await dfu.close();
  return report;
}

async function write(address: number, file: string): Promise<Report> {
  const data = await readFile(file);
  const dfu = await firstDfuDevice();
  await dfu.connect(0);
  dfu.dfuseStartAddress = address;
  const events: string[] = [];
  let written = 0;
  const outcome = await new Promise<Report>((resolve) => {
    const job = dfu.write(dfu.properties!.TransferSize, data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), false);
    job.events.on('erase/end', () => events.push('erase/end'));
    job.events.on('write/end', (bytes) => { written = bytes; events.push('write/end'); });
    job.events.on('end', () => resolve({ ended: true }));
    job.events.on('error', (error: unknown) => resolve({ ended: false, error: String(error) }));
  });
  return { ...outcome, events, written };
}

async function read(address: number, length: number, out: string): Promise<Report> {
  const dfu = await firstDfuDevice();
  await dfu.connect(0);
  dfu.dfuseStartAddress = address;
  const blob = await new Promise<Blob>((resolve, reject) => {
    const job = dfu.read(dfu.properties!.TransferSize, length);
    job.events.on('end', resolve);
    job.events.on('error', reject);
  });
  await writeFile(out, new Uint8Array(await blob.arrayBuffer()));
  await dfu.close();
  return { read: blob.size };
}

const [command, ...args] = process.argv.slice(2);
const number = (text: string | undefined): number => Number.parseInt(text ?? '', text?.startsWith('0x') ? 16 : 10);
try {
  const report = command === 'list' ? await list()
    : command === 'write' ? await write(number(args[0]), args[1]!)
      : command === 'read' ? await read(number(args[0]), number(args[1]), args[2]!)
        : undefined;
  if (!report) throw new Error(`unknown command "${command ?? ''}": list, write <address> <file>, read <address> <length> <out>`);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ failed: String(error) })}\n`);
  process.exit(1);
}
