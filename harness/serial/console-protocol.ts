// The host side of the test application's console protocol (docs/console-protocol.md): the
// one place that knows its grammar. Device lines are parsed into typed values; commands are
// formatted from typed values.

/** GPIO ports of the STM32H745, in the order the console lists them. */
export const GPIO_PORTS = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K'] as const;
/** One of {@link GPIO_PORTS}. */
export type GpioPortName = (typeof GPIO_PORTS)[number];

/** GPIO registers in the order the console prints them. */
export const GPIO_REGISTERS = ['MODER', 'OTYPER', 'OSPEEDR', 'PUPDR', 'ODR', 'AFRL', 'AFRH'] as const;
/** One of {@link GPIO_REGISTERS}. */
export type GpioRegisterName = (typeof GPIO_REGISTERS)[number];

/** One port's registers, by name. */
export type GpioRegisters = Record<GpioRegisterName, number>;
/** Registers of every port the device listed: port letter → registers. */
export type GpioSnapshot = Partial<Record<GpioPortName, GpioRegisters>>;

/** RCC_RSR read at the first instruction of Reset_Handler; `none` when entered by a jump. */
export type ResetCauseReport = 'power-on' | 'pin' | 'software' | 'watchdog' | 'none';
/** How the application was entered. */
export type AppEntry = 'reset' | 'jump';
/** The Cortex-M4's state as the application sees it. */
export type Cm4State = 'running' | 'lockup' | 'off';

/** The `BOOT` line. */
export interface BootLine {
  cause: ResetCauseReport;
  entry: AppEntry;
  rsr: number;
  cm4: Cm4State;
  ecc: number;
}

/** A line from the device, parsed. */
export type DeviceLine =
  | { kind: 'ready'; name: string; version: string }
  | { kind: 'version'; name: string; version: string }
  | ({ kind: 'boot' } & BootLine)
  | { kind: 'pre' | 'gpio'; port: GpioPortName; registers: GpioRegisters }
  | { kind: 'ok' }
  | { kind: 'err'; reason: string }
  | { kind: 'noise'; text: string };

/** A command the host sends. */
export type ConsoleCommand =
  | { verb: 'version' }
  | { verb: 'boot' }
  | { verb: 'gpio' }
  | { verb: 'pin'; pin: string; level: 0 | 1 }
  | { verb: 'dfu-jump' }
  | { verb: 'dfu-direct' }
  | { verb: 'dfu-rc'; delayMs?: number }
  | { verb: 'reset' };

const CAUSES: readonly ResetCauseReport[] = ['power-on', 'pin', 'software', 'watchdog', 'none'];
const ENTRIES: readonly AppEntry[] = ['reset', 'jump'];
const CM4_STATES: readonly Cm4State[] = ['running', 'lockup', 'off'];
const HEX32 = /^0x[0-9A-Fa-f]{8}$/;
const NAME_VERSION = /^(READY|VERSION) (\S+) (\S+)$/;

/** True for a pin name the test application accepts, e.g. PB0 or PG12. */
export function isPinName(pin: string): boolean {
  return /^P[A-K](?:1[0-5]|[0-9])$/.test(pin);
}

/** Formats a register value as the protocol does: 0x followed by 8 upper-case hex digits. */
export function formatRegister(value: number): string {
  return `0x${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

function parseFields(words: readonly string[]): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return fields;
}

function parseRegisters(words: readonly string[]): GpioRegisters | undefined {
  const fields = parseFields(words);
  if (!fields || fields.size !== GPIO_REGISTERS.length) return undefined;
  const registers = {} as GpioRegisters;
  for (const name of GPIO_REGISTERS) {
    const text = fields.get(name);
    if (text === undefined || !HEX32.test(text)) return undefined;
    registers[name] = Number.parseInt(text.slice(2), 16) >>> 0;
  }
  return registers;
}

function parseBoot(words: readonly string[]): BootLine | undefined {
  const f = parseFields(words);
  if (!f) return undefined;
  const cause = f.get('cause') as ResetCauseReport | undefined;
  const entry = f.get('entry') as AppEntry | undefined;
  const cm4 = f.get('cm4') as Cm4State | undefined;
  const rsr = f.get('rsr');
  const ecc = f.get('ecc');
  if (!cause || !CAUSES.includes(cause) || !entry || !ENTRIES.includes(entry) || !cm4 || !CM4_STATES.includes(cm4)) return undefined;
  if (rsr === undefined || !HEX32.test(rsr) || ecc === undefined || !/^\d+$/.test(ecc)) return undefined;
  return { cause, entry, rsr: Number.parseInt(rsr.slice(2), 16) >>> 0, cm4, ecc: Number(ecc) };
}

/** Parses one device line (without its line ending). Anything off-grammar is `noise`. */
export function parseDeviceLine(text: string): DeviceLine {
  const line = text.replace(/\r$/, '');
  if (line === 'OK') return { kind: 'ok' };
  if (line === 'ERR' || line.startsWith('ERR ')) return { kind: 'err', reason: line.slice(4).trim() };
  const nv = NAME_VERSION.exec(line);
  if (nv) return { kind: nv[1] === 'READY' ? 'ready' : 'version', name: nv[2]!, version: nv[3]! };
  const words = line.split(' ');
  const head = words[0];
  if (head === 'BOOT') {
    const boot = parseBoot(words.slice(1));
    if (boot) return { kind: 'boot', ...boot };
  } else if ((head === 'PRE' || head === 'GPIO') && words.length >= 3) {
    const port = words[1] as GpioPortName;
    const registers = GPIO_PORTS.includes(port) ? parseRegisters(words.slice(2)) : undefined;
    if (registers) return { kind: head === 'PRE' ? 'pre' : 'gpio', port, registers };
  }
  return { kind: 'noise', text: line };
}

/** Formats a command as the device expects it, without the line ending. */
export function formatCommand(command: ConsoleCommand): string {
  switch (command.verb) {
    case 'pin':
      if (!isPinName(command.pin)) throw new RangeError(`"${command.pin}" is not a pin name like "PB0"`);
      return `pin ${command.pin} ${command.level}`;
    case 'dfu-jump': return 'dfu jump';
    case 'dfu-direct': return 'dfu direct';
    case 'dfu-rc': {
      const delay = command.delayMs;
      if (delay === undefined) return 'dfu rc';
      if (!Number.isInteger(delay) || delay < 0) throw new RangeError(`dfu rc delay must be a whole number of ms, not ${delay}`);
      return `dfu rc ${delay}`;
    }
    default: return command.verb;
  }
}

/** Formats a device line; the simulated application and test doubles use it to speak the protocol. */
export function formatDeviceLine(line: DeviceLine): string {
  switch (line.kind) {
    case 'ready': return `READY ${line.name} ${line.version}`;
    case 'version': return `VERSION ${line.name} ${line.version}`;
    case 'boot': return `BOOT cause=${line.cause} entry=${line.entry} rsr=${formatRegister(line.rsr)} cm4=${line.cm4} ecc=${line.ecc}`;
    case 'pre':
    case 'gpio':
      return `${line.kind.toUpperCase()} ${line.port} ${GPIO_REGISTERS.map((r) => `${r}=${formatRegister(line.registers[r])}`).join(' ')}`;
    case 'ok': return 'OK';
    case 'err': return line.reason ? `ERR ${line.reason}` : 'ERR';
    case 'noise': return line.text;
  }
}

/** Collects PRE or GPIO lines into a snapshot; the ports missing from A..K are returned too. */
export function collectSnapshot(lines: readonly DeviceLine[], kind: 'pre' | 'gpio'): { snapshot: GpioSnapshot; missing: GpioPortName[] } {
  const snapshot: GpioSnapshot = {};
  for (const line of lines) if (line.kind === kind) snapshot[line.port] = line.registers;
  return { snapshot, missing: GPIO_PORTS.filter((p) => snapshot[p] === undefined) };
}
