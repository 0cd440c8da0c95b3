// The schema of rigs.yaml. Every field has the default a NUCLEO-H745ZI-Q on ST's ROM
// bootloader needs; a rig only writes what differs. Messages of custom checks start with
// "expected …": the loader puts them after what it found at that line and column.
import * as z from 'zod';
import { MemoryLayout } from '../../dfu/layout.js';
import { GPIO_PORTS, GPIO_REGISTERS, isPinName } from '../../serial/console-protocol.js';
import { parseEngineeringValue, QUANTITY_EXAMPLE, type Quantity } from './engineering-value.js';
import { BOOTLOADER_PROFILES, ENTRY_METHODS, PROBE_TOOLS, RIG_KINDS, SIM_APPLICATIONS, type UsbId } from './vocabulary.js';

export {
  ENTRY_METHODS, RIG_KINDS, BOOTLOADER_PROFILES, PROBE_TOOLS, SIM_APPLICATIONS, formatUsbId,
  type EntryMethod, type RigKind, type BootloaderProfileName, type ProbeTool, type SimApplication, type UsbId,
} from './vocabulary.js';

/** The ROM's alternate-setting strings (docs/stm32h7-facts.md §2, 3 spaces before the slash). */
export const ST_ROM_FLASH_LAYOUT = '@Internal Flash   /0x08000000/16*128Kg';
export const ST_ROM_OPTION_BYTES_LAYOUT = '@Option Bytes   /0x5200201C/01*128 e';

/** The openocd board file Debian's openocd 0.12 ships for this board (openocd 0.12, tcl/board/st_nucleo_h745zi.cfg). */
export const DEFAULT_OPENOCD_CONFIG = 'board/st_nucleo_h745zi.cfg';

/** LD1 (green) on the NUCLEO-H745ZI-Q (UM2408): the pin the specs let the test application drive. */
export const NUCLEO_LED_PIN = 'PB0';

/**
 * BOOT0's switching threshold as a fraction of VDD when a rig does not give one.
 * Unconfirmed: no public source gives BOOT0's V_IH for the STM32H745 (docs/stm32h7-facts.md), so this is a setting
 * with a documented default (half of VDD), not a datasheet value.
 */
export const BOOT0_THRESHOLD_FRACTION_DEFAULT = 0.5;

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) { best = c; bestDistance = d; }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** The message for an unknown key: a suggestion when one is close, else the keys allowed. */
export function unknownKeyMessage(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  const list = known.map((k) => `"${k}"`).join(', ');
  return guess !== undefined ? `did you mean "${guess}"? (expected one of ${list})` : `expected one of ${list}`;
}

/** A mapping that rejects unknown keys, with "did you mean" for near misses. */
function section<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return unknownKeyMessage(issue.keys[0] ?? '', known);
      if (issue.code === 'invalid_type') return 'expected a mapping of keys to values';
      return undefined;
    },
  });
}

/** A key that takes no settings: `console-jump:` or `console-jump: {}`. */
function flag() {
  return z.preprocess((v) => v ?? {}, section({}));
}

function engineering(quantity: Quantity) {
  const expected = `expected ${QUANTITY_EXAMPLE[quantity]}`;
  return z.union([z.number(), z.string()], { error: expected }).transform((input, ctx) => {
    const value = parseEngineeringValue(input, quantity);
    if (value === undefined) {
      ctx.issues.push({ code: 'custom', message: expected, input });
      return z.NEVER;
    }
    return value;
  });
}

function hexWord() {
  const expected = 'expected a 32-bit hex value like "0x03C00000"';
  return z.union([z.number().int().min(0).max(0xffffffff), z.string().regex(/^0x[0-9a-fA-F]{1,8}$/)], { error: expected })
    .transform((v) => (typeof v === 'number' ? v : Number.parseInt(v, 16)) >>> 0);
}

function milliseconds(defaultMs: number) {
  return z.number({ error: 'expected a duration in milliseconds like 5000' }).int({ error: 'expected a whole number of milliseconds' })
    .positive({ error: 'expected a positive number of milliseconds' }).default(defaultMs);
}

/** A busy time the chip's datasheet gives as a number: positive, fractions allowed. */
function busyTime(unit: 'ms' | 'µs', example: number) {
  const expected = `expected a positive duration in ${unit === 'ms' ? 'milliseconds' : 'microseconds'} like ${example}`;
  return z.number({ error: expected }).positive({ error: expected }).optional();
}

const usbId = z.string({ error: 'expected a USB id like "0483:df11"' })
  .regex(/^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$/, { error: 'expected a USB id like "0483:df11"' })
  .transform((text): UsbId => ({ vendorId: Number.parseInt(text.slice(0, 4), 16), productId: Number.parseInt(text.slice(5), 16) }));

const pinName = z.string({ error: 'expected a pin name like "PG2"' })
  .refine(isPinName, { error: 'expected a pin name like "PG2"' });

const layoutString = (example: string) => z.string({ error: `expected a DfuSe layout like "${example}"` }).superRefine((text, ctx) => {
  try {
    MemoryLayout.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected a DfuSe layout like "${example}"` });
  }
});

/** A JavaScript regular expression, checked here so that a bad one is reported with its line. */
function regexSource(example: string) {
  const expected = `expected a regular expression like "${example}"`;
  return z.string({ error: expected }).min(1, { error: expected }).superRefine((text, ctx) => {
    try {
      new RegExp(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: `${expected} (${(error as Error).message})` });
    }
  });
}

const APP_READY_FORMS = ['banner', 'usb', 'gpio', 'settleMs'] as const;
const APP_READY_EXPECTED = 'expected none, or a mapping with one of "banner", "usb", "gpio" or "settleMs"';

/**
 * How the rig tells that the application is up (harness/rig/app-ready/): `none`, or one of a
 * banner line on a console port, the application's own USB device, a pin read through the probe,
 * a settle time. Without it, the test application's READY (or, on a simulated rig whose image
 * speaks no console, the core running the image).
 */
const APP_READY_KEYS = ['banner', 'port', 'baud', 'usb', 'product', 'gpio', 'level', 'pollMs', 'settleMs'] as const;

/** Exactly one form; left to the key check when an unknown key (a misspelt form, likely) is there. */
const oneAppReadyForm = z.unknown().superRefine((raw, ctx) => {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || 'none' in raw) return;
  const keys = Object.keys(raw);
  if (keys.some((k) => !(APP_READY_KEYS as readonly string[]).includes(k))) return;
  const forms = APP_READY_FORMS.filter((f) => keys.includes(f));
  if (forms.length !== 1) {
    ctx.addIssue({ code: 'custom', message: forms.length === 0 ? APP_READY_EXPECTED : `expected one form, not ${forms.map((f) => `"${f}"`).join(' and ')}` });
  }
});

/**
 * How the rig tells that the application is up (harness/rig/app-ready/): `none`, or one of a
 * banner line on a console port, the application's own USB device, a pin read through the probe,
 * a settle time. Without it, the test application's READY (or, on a simulated rig whose image
 * speaks no console, the core running the image).
 */
const appReady = z.preprocess((v) => (v === 'none' ? { none: true } : v), oneAppReadyForm.pipe(z.strictObject({
  none: z.literal(true).optional(),
  /** A line matching this pattern; named groups `name` and `version` give the application's identity. */
  banner: regexSource('^my-app (?<version>\\\\S+) up$').optional(),
  /** The port the banner comes on (default console.path) and its baud rate (default console.baud). */
  port: z.string({ error: 'expected a serial device path like "/dev/ttyACM1"' }).min(1).optional(),
  baud: z.number({ error: 'expected a baud rate like 115200' }).int().positive().optional(),
  /** The application's own VID:PID enumerating anew. */
  usb: usbId.optional(),
  /** Matched against the device's iProduct; named groups `name` and `version` give its identity. */
  product: regexSource('^(?<name>\\\\S+) (?<version>\\\\S+)$').optional(),
  /** A pin the application drives once it runs, read through the probe (GPIOx_IDR). */
  gpio: pinName.optional(),
  level: z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' }).optional(),
  pollMs: z.number({ error: 'expected a poll period in milliseconds like 50' }).int().positive({ error: 'expected a positive number of milliseconds' }).optional(),
  /** A fixed time after the reset or leave. */
  settleMs: z.number({ error: 'expected a settle time in milliseconds like 500' }).int({ error: 'expected a whole number of milliseconds' })
    .min(0, { error: 'expected a settle time of 0 ms or more' }).optional(),
}, {
  error: (issue) => {
    if (issue.code === 'unrecognized_keys') return unknownKeyMessage(issue.keys[0] ?? '', APP_READY_KEYS);
    if (issue.code === 'invalid_type') return APP_READY_EXPECTED;
    return undefined;
  },
}).superRefine((a, ctx) => {
  if (a.none) return;
  const form = APP_READY_FORMS.find((f) => a[f] !== undefined);
  const companions: Record<string, (typeof APP_READY_FORMS)[number]> = { port: 'banner', baud: 'banner', product: 'usb', level: 'gpio', pollMs: 'gpio' };
  for (const [key, owner] of Object.entries(companions)) {
    if (a[key as keyof typeof a] !== undefined && form !== owner) {
      ctx.addIssue({ code: 'custom', path: [key], message: `expected "${key}" only with "${owner}"` });
    }
  }
  if (a.gpio !== undefined && a.level === undefined) {
    ctx.addIssue({ code: 'custom', path: ['gpio'], message: 'expected a "level: 0" or "level: 1" next to it (the level the application drives the pin to)' });
  }
}).transform((a): AppReadySetting => {
  if (a.none) return { form: 'none' };
  if (a.banner !== undefined) return { form: 'console-banner', banner: a.banner, ...(a.port ? { port: a.port } : {}), ...(a.baud ? { baud: a.baud } : {}) };
  if (a.usb !== undefined) return { form: 'usb-device', usb: a.usb, ...(a.product ? { product: a.product } : {}) };
  if (a.gpio !== undefined) return { form: 'gpio-level', gpio: a.gpio, level: a.level ?? 1, ...(a.pollMs ? { pollMs: a.pollMs } : {}) };
  return { form: 'settle-time', settleMs: a.settleMs ?? 0 };
})));

/** `appReady` as parsed: one form and its settings (regular expressions as their source text). */
export type AppReadySetting =
  | { form: 'none' }
  | { form: 'console-banner'; banner: string; port?: string; baud?: number }
  | { form: 'usb-device'; usb: UsbId; product?: string }
  | { form: 'gpio-level'; gpio: string; level: 0 | 1; pollMs?: number }
  | { form: 'settle-time'; settleMs: number };

const uhubctl = section({
  location: z.string({ error: 'expected a uhubctl hub location like "1-1.4"' })
    .regex(/^\d+-\d+(?:\.\d+)*$/, { error: 'expected a uhubctl hub location like "1-1.4"' }),
  port: z.number({ error: 'expected a hub port number like 2' }).int({ error: 'expected a hub port number like 2' }).min(1, { error: 'expected a hub port number like 2' }),
});

const power = section({ uhubctl });

const rcWiring = section({
  r: engineering('resistance').default(100_000),
  c: engineering('capacitance').default(1e-6),
  vdd: engineering('voltage').default(3.3),
  /** Volts at which BOOT0 reads high; see BOOT0_THRESHOLD_FRACTION_DEFAULT. */
  threshold: engineering('voltage').optional(),
  chargePin: pinName,
}).transform((w) => ({ ...w, threshold: w.threshold ?? w.vdd * BOOT0_THRESHOLD_FRACTION_DEFAULT }));

const CONSOLE_LINE_EXAMPLE = 'expected the line to send, like "update" (one line, no line end)';

const entry = section({
  /** DFU_DETACH on the application's run-time interface; `detachTimeoutMs` overrides the wValue (default the descriptor's wDetachTimeOut). */
  'dfu-detach': z.preprocess((v) => v ?? {}, section({
    detachTimeoutMs: z.number({ error: 'expected a detach timeout in milliseconds like 1000' }).int({ error: 'expected a whole number of milliseconds' })
      .positive({ error: 'expected a positive number of milliseconds' }).max(0xffff, { error: 'expected at most 65535 ms (wValue is 16 bits)' }).optional(),
  })).optional(),
  'console-jump': flag().optional(),
  'console-direct': flag().optional(),
  /** A command of the application's own, sent on the console. */
  'console-command': section({
    send: z.string({ error: CONSOLE_LINE_EXAMPLE }).min(1, { error: CONSOLE_LINE_EXAMPLE }).regex(/^[^\r\n]+$/, { error: CONSOLE_LINE_EXAMPLE }),
  }).optional(),
  rc: rcWiring.optional(),
  'boot0-jumper': section({ uhubctl: uhubctl.optional() }).optional(),
  probe: flag().optional(),
});

const gpioException = section({
  port: z.enum(GPIO_PORTS, { error: 'expected a GPIO port letter A to K' }),
  register: z.enum(GPIO_REGISTERS, { error: `expected one of ${GPIO_REGISTERS.join(', ')}` }),
  mask: hexWord(),
  value: hexWord(),
  reason: z.string({ error: 'expected a sentence saying why this differs from the baseline' }).min(1, { error: 'expected a sentence saying why this differs from the baseline' }),
}).superRefine((e, ctx) => {
  if ((e.value & ~e.mask) !== 0) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: 'expected a value with no bits set outside its mask' });
  }
});

/** GitHub matches runner labels case-insensitively. */
const sameLabels = (a: readonly string[], b: readonly string[]): boolean => {
  const norm = (labels: readonly string[]) => [...new Set(labels.map((l) => l.toLowerCase()))].sort().join('\n');
  return norm(a) === norm(b);
};

/** The labels a CI rig's runner gets when its `ci:` section names none. */
export function defaultRunnerLabels(rigName: string): string[] {
  return ['self-hosted', `dfu-hil-${rigName}`];
}

const RUNNER_LABEL_EXAMPLE = 'expected a runner label like "dfu-hil-bench-1" (letters, digits, ".", "_" and "-")';
const runnerLabel = z.string({ error: RUNNER_LABEL_EXAMPLE }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: RUNNER_LABEL_EXAMPLE });

const CI_GROUP_EXAMPLE = 'expected a group name like "h745-rev-y" (lower-case letters, digits, ".", "_" and "-")';

/**
 * How CI reaches a hardware rig. Its presence puts the rig in the nightly and regression
 * workflows; a bench rig without it is never queued for a runner that does not exist.
 */
const ciSettings = z.preprocess((v) => v ?? {}, section({
  /** runs-on labels of the self-hosted runner the board is attached to (default: self-hosted, dfu-hil-<rig>). */
  runnerLabels: z.array(runnerLabel, { error: 'expected a list of runner labels like [self-hosted, dfu-hil-bench-1]' })
    .refine((labels) => labels.some((l) => l.toLowerCase() === 'self-hosted'), {
      error: 'expected a list that includes "self-hosted" (boards are attached to self-hosted runners, never to hosted ones)',
    })
    .optional(),
  /** Identical boards share a group: CI splits the suite across them (default: the rig's own name). */
  group: z.string({ error: CI_GROUP_EXAMPLE }).regex(/^[a-z0-9][a-z0-9._-]*$/, { error: CI_GROUP_EXAMPLE }).optional(),
}));

const rigSchema = section({
  kind: z.enum(RIG_KINDS, { error: `expected one of ${RIG_KINDS.map((k) => `"${k}"`).join(', ')}` }),
  description: z.string({ error: 'expected a sentence describing the rig' }).default(''),
  usb: section({
    /** The application's own USB identity, if it enumerates at all. */
    app: usbId.optional(),
    /** iSerialNumber of the bootloader's DFU device (12 hex characters on ST's ROM). */
    serial: z.string({ error: 'expected the DFU device\'s serial number as a string' }).min(1).optional(),
    /** Physical port, which survives re-enumeration. */
    portPath: z.string({ error: 'expected a USB port path like "1-4.2"' })
      .regex(/^\d+-\d+(?:\.\d+)*$/, { error: 'expected a USB port path like "1-4.2"' }).optional(),
    /**
     * Simulated rigs: the application offers its own USB device under `app` with a DFU run-time
     * interface (harness/sim/app/dfu-runtime-interface.ts), whatever image runs.
     */
    dfuRuntime: z.preprocess((v) => v ?? {}, section({
      /** bitWillDetach: the device leaves the bus by itself after DETACH (default false: the host resets it). */
      willDetach: z.boolean({ error: 'expected true or false' }).default(false),
      /** wDetachTimeOut, ms (default 1000). */
      detachTimeoutMs: z.number({ error: 'expected a detach timeout in milliseconds like 1000' }).int().positive().max(0xffff, { error: 'expected at most 65535 ms (wDetachTimeOut is 16 bits)' }).optional(),
      /** From the application's start to its enumeration, ms (default 100). */
      connectDelayMs: z.number({ error: 'expected a delay in milliseconds like 100' }).int().min(0).optional(),
      /** iProduct (default the image's name and version). */
      product: z.string({ error: 'expected a product string' }).min(1).optional(),
    })).optional(),
  }).prefault({}),
  console: section({
    path: z.string({ error: 'expected a serial device path like "/dev/serial/by-id/usb-STMicroelectronics_STLINK-V3_…-if02"' }).min(1).optional(),
    baud: z.number({ error: 'expected a baud rate like 115200' }).int().positive().default(115_200),
  }).prefault({}),
  probe: section({
    tool: z.enum(PROBE_TOOLS, { error: `expected one of ${PROBE_TOOLS.map((t) => `"${t}"`).join(', ')}` }).default('st-flash'),
    serial: z.string({ error: 'expected the probe\'s serial number as a string' }).min(1).optional(),
    /** Default the NUCLEO-H745ZI-Q's board file; a board of kind stm32h7 names its own. */
    openocdConfig: z.string({ error: 'expected an openocd config like "board/st_nucleo_h745zi.cfg"' }).optional(),
  }).optional(),
  power: power.optional(),
  entry: entry.prefault({ 'console-jump': {}, 'console-direct': {} }),
  bootloader: section({
    profile: z.enum(BOOTLOADER_PROFILES, { error: `expected one of ${BOOTLOADER_PROFILES.map((p) => `"${p}"`).join(', ')}` }).optional(),
    vidPid: usbId.default({ vendorId: 0x0483, productId: 0xdf11 }),
    layout: section({
      flash: layoutString(ST_ROM_FLASH_LAYOUT).default(ST_ROM_FLASH_LAYOUT),
      optionBytes: layoutString(ST_ROM_OPTION_BYTES_LAYOUT).default(ST_ROM_OPTION_BYTES_LAYOUT),
    }).prefault({}),
  }).prefault({}),
  expect: section({
    gpioAfterLeave: section({
      baseline: z.enum(['reset-values', 'power-on-capture'], { error: 'expected "reset-values" or "power-on-capture"' }).default('reset-values'),
      exceptions: z.array(gpioException, { error: 'expected a list of exceptions' }).default([]),
    }).prefault({}),
  }).prefault({}),
  timeouts: section({
    /** Waiting for the DFU device (or the app) to appear on USB; dfu-util's default is 5 s. */
    enumerationMs: milliseconds(5_000),
    /** One console command's answer. */
    consoleMs: milliseconds(2_000),
    /** The READY banner after a reset or leave. */
    readyMs: milliseconds(5_000),
    /** A whole flash: 16 sectors at up to 2.2 s each, plus programming (docs/stm32h7-facts.md §4). */
    flashMs: milliseconds(120_000),
    /** Leave DFU until the device is gone. */
    leaveMs: milliseconds(5_000),
    /** One probe command. */
    probeMs: milliseconds(60_000),
    /** Power off, wait, power on. */
    powerCycleMs: milliseconds(3_000),
  }).prefault({}),
  allowOptionBytes: z.boolean({ error: 'expected true or false' }).default(false),
  ci: ciSettings.optional(),
  /** Simulated rigs: `executed` runs the flashed image on an emulated Cortex-M7 (needs libunicorn 2); default `modelled`. */
  application: z.enum(SIM_APPLICATIONS, { error: `expected one of ${SIM_APPLICATIONS.map((a) => `"${a}"`).join(', ')}` }).optional(),
  /**
   * Simulated rigs: the flash's busy times, for a chip slower or faster than the defaults
   * (harness/sim/flash/flash-timing.ts says which are sourced); unset keys keep their default.
   */
  flashTiming: section({
    sectorEraseMs: busyTime('ms', 2200),
    bankEraseMs: busyTime('ms', 8800),
    massEraseMs: busyTime('ms', 8800),
    wordProgramUs: busyTime('µs', 130),
    optionBytesProgramMs: busyTime('ms', 100),
  }).optional(),
  /** Simulated rigs in executed mode: the image the board boots as its reference, instead of the test application. */
  firmware: section({
    /** An .elf, .hex, .dfu or .bin, relative to the rigs file. */
    reference: z.string({ error: 'expected the path of an image like "build/app.elf" (.elf, .hex, .dfu or .bin)' }).min(1),
    /** Where a .bin goes (default 0x08000000). */
    address: hexWord().optional(),
    /** True when the image speaks the test application's console protocol (docs/console-protocol.md). */
    console: z.boolean({ error: 'expected true or false' }).default(false),
  }).optional(),
  appReady: appReady.optional(),
  /** Pins of the board the specs use: `led`, one the application may drive as an output (default PB0, LD1, on a NUCLEO-H745ZI-Q). */
  pins: section({ led: pinName.optional() }).prefault({}),
}).superRefine((rig, ctx) => {
  if (rig.kind !== 'sim' && rig.application !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['application'], message: 'expected no "application:" on a hardware rig (a board always executes its firmware; the key chooses how a simulated rig runs it)' });
  }
  if (rig.kind !== 'sim' && rig.flashTiming !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['flashTiming'], message: 'expected no "flashTiming:" on a hardware rig (a board\'s flash takes the time it takes; the key sets a simulated chip\'s)' });
  }
  if (rig.firmware !== undefined) {
    if (rig.kind === 'sim' && rig.application !== 'executed') {
      ctx.addIssue({ code: 'custom', path: ['firmware'], message: 'expected "firmware:" on a simulated rig only with "application: executed" (only executed mode runs an image of your own)' });
    }
    if (rig.kind !== 'sim' && !rig.firmware.console && rig.appReady === undefined) {
      ctx.addIssue({ code: 'custom', path: ['firmware'], message: 'expected an "appReady:" too (firmware that speaks no test-application console must say how the rig tells it is up: a banner, its USB device, a pin, a settle time, or none)' });
    }
    if (rig.probe === undefined) {
      ctx.addIssue({ code: 'custom', path: ['firmware'], message: 'expected a "probe:" section too (the board is brought back to its reference image over SWD)' });
    }
    const consoleEntries = (['console-jump', 'console-direct', 'rc'] as const).filter((m) => rig.entry[m] !== undefined);
    if (!rig.firmware.console && consoleEntries.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['entry'], message: `expected entries your image offers: dfu-detach, console-command, probe or boot0-jumper (${consoleEntries.join(', ')} need the test application's console; set firmware.console: true if your image speaks it)` });
    }
  }
  const detach = rig.entry['dfu-detach'];
  if (detach !== undefined && rig.usb.app === undefined) {
    ctx.addIssue({ code: 'custom', path: ['entry', 'dfu-detach'], message: 'expected usb.app too (the application\'s own VID:PID, where the host finds its run-time interface)' });
  }
  if (detach !== undefined && rig.kind === 'sim' && rig.usb.dfuRuntime === undefined) {
    ctx.addIssue({ code: 'custom', path: ['entry', 'dfu-detach'], message: 'expected usb.dfuRuntime on a simulated rig too (its application offers the run-time interface only when told to)' });
  }
  if (rig.usb.dfuRuntime !== undefined) {
    if (rig.kind !== 'sim') {
      ctx.addIssue({ code: 'custom', path: ['usb', 'dfuRuntime'], message: 'expected "dfuRuntime" only on a simulated rig (a board\'s application offers what its firmware does: describe it by usb.app and entry.dfu-detach)' });
    } else if (rig.usb.app === undefined) {
      ctx.addIssue({ code: 'custom', path: ['usb', 'dfuRuntime'], message: 'expected usb.app too (the VID:PID the simulated application enumerates as, never the ROM\'s 0483:df11)' });
    }
  }
  const ready = rig.appReady;
  if (ready?.form === 'usb-device' && rig.kind === 'sim') {
    const app = rig.usb.app;
    if (rig.usb.dfuRuntime === undefined || app === undefined || app.vendorId !== ready.usb.vendorId || app.productId !== ready.usb.productId) {
      ctx.addIssue({ code: 'custom', path: ['appReady', 'usb'], message: 'expected usb.app\'s id, with usb.dfuRuntime (a simulated application enumerates only as usb.app, and only with usb.dfuRuntime)' });
    }
  }
  if (ready?.form === 'gpio-level' && rig.probe === undefined) {
    ctx.addIssue({ code: 'custom', path: ['appReady', 'gpio'], message: 'expected a "probe:" section on this rig too (the pin is read through the debug probe)' });
  }
  if (ready?.form === 'console-banner' && rig.kind === 'sim' && ready.port !== undefined && ready.port !== rig.console.path) {
    ctx.addIssue({ code: 'custom', path: ['appReady', 'port'], message: 'expected no "port:" on a simulated rig (its board has one serial port, the console)' });
  }
  if (rig.kind === 'sim' && rig.ci !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['ci'], message: 'expected no "ci:" section on a simulated rig (simulated rigs run on hosted runners; "ci:" is for boards on self-hosted ones)' });
  }
  if (rig.kind === 'stm32h7' && rig.probe?.tool === 'openocd' && rig.probe.openocdConfig === undefined) {
    ctx.addIssue({ code: 'custom', path: ['probe'], message: 'expected "openocdConfig:" on a board of kind stm32h7 (the NUCLEO-H745ZI-Q\'s board file does not fit another board): an openocd config naming your adapter and target, like "board/my-board.cfg"' });
  }
  if (rig.kind !== 'sim') {
    if (rig.console.path === undefined) {
      ctx.addIssue({ code: 'custom', path: ['console', 'path'], message: 'expected a serial device path like "/dev/serial/by-id/usb-STMicroelectronics_STLINK-V3_…-if02" (hardware rigs need one)' });
    }
    if (rig.usb.serial === undefined && rig.usb.portPath === undefined) {
      ctx.addIssue({ code: 'custom', path: ['usb'], message: 'expected usb.serial or usb.portPath, so that the right board is picked when several are attached' });
    }
  }
  if (rig.entry.probe !== undefined && rig.probe === undefined) {
    ctx.addIssue({ code: 'custom', path: ['entry', 'probe'], message: 'expected a "probe:" section on this rig (the probe entry method needs a debug probe)' });
  }
  const jumper = rig.entry['boot0-jumper'];
  if (jumper !== undefined && jumper.uhubctl === undefined && rig.power === undefined) {
    ctx.addIssue({ code: 'custom', path: ['entry', 'boot0-jumper'], message: 'expected "uhubctl: { location, port }" here or a rig "power:" section (boot0-jumper entry power-cycles the board)' });
  }
  if (Object.values(rig.entry).every((w) => w === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['entry'], message: `expected at least one entry method: ${ENTRY_METHODS.join(', ')}` });
  }
});

const rigName = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, { error: 'expected a rig name of lower-case letters, digits, ".", "_" and "-"' });

/** The whole rigs.yaml file. */
export const rigsFileSchema = section({
  default: z.string({ error: 'expected the name of one of the rigs below' }).optional(),
  rigs: z.record(rigName, rigSchema, { error: 'expected a mapping of rig names to rigs' }),
}).superRefine((file, ctx) => {
  const names = Object.keys(file.rigs);
  if (names.length === 0) ctx.addIssue({ code: 'custom', path: ['rigs'], message: 'expected at least one rig' });
  if (file.default !== undefined && !names.includes(file.default)) {
    ctx.addIssue({ code: 'custom', path: ['default'], message: `expected one of the rigs in this file: ${names.map((n) => `"${n}"`).join(', ')}` });
  }
  // A job is routed by its labels alone: boards that share labels must share a machine, which
  // only the identical boards of one group (served by one runner, or several on one machine) do.
  const labelled = Object.entries(file.rigs).flatMap(([name, rig]) => (rig.ci
    ? [{ name, labels: rig.ci.runnerLabels ?? defaultRunnerLabels(name), group: rig.ci.group ?? name }]
    : []));
  for (const [i, rig] of labelled.entries()) {
    const twin = labelled.slice(0, i).find((other) => other.group !== rig.group && sameLabels(other.labels, rig.labels));
    if (twin) {
      ctx.addIssue({
        code: 'custom', path: ['rigs', rig.name, 'ci', 'runnerLabels'],
        message: `expected runner labels that no rig outside this rig's CI group has (rig "${twin.name}" has the same, so jobs could run on the wrong machine): add a label naming this board or its group, like "dfu-hil-${rig.group}"`,
      });
    }
  }
});

/** One rig's settings as parsed, defaults applied. */
export type RigSettings = z.output<typeof rigSchema>;
/** The RC circuit that holds BOOT0 high across a reset. */
export type RcWiring = z.output<typeof rcWiring>;
/** A uhubctl-switched USB port that powers the board. */
export type UhubctlPort = z.output<typeof uhubctl>;
/** An expected difference from the GPIO baseline after leaving DFU. */
export type GpioException = z.output<typeof gpioException>;
/** The parsed file. */
export type RigsFileSettings = z.output<typeof rigsFileSchema>;

/** The JSON Schema of rigs.yaml as written (before defaults), for editors and `dfu-hil rigs --schema`. */
export function rigsJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(rigsFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
