// The rigs.yaml settings for a team's own firmware: how the rig tells the application is up
// (appReady), the application's DFU run-time interface, the entries that use it or a command of
// its own, and a board of the family other than the NUCLEO.
import { describe, expect, it } from 'vitest';
import { parseRigs, RigConfigError } from './load-rigs.js';

function rig(body: string, kind = 'sim') {
  return parseRigs(`rigs:\n  r:\n    kind: ${kind}\n${body}`, 'rigs.yaml').rigs.get('r')!;
}

/** A broken rig: the file's first problem must be at `keyPath`, `line`:`column`, and its message must hold each of `parts`. */
type Broken = readonly [name: string, body: string, keyPath: string, line: number, column: number, parts: readonly string[]];

function expectProblem([, body, keyPath, line, column, parts]: Broken, kind = 'sim'): void {
  let error: unknown;
  try {
    rig(body, kind);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RigConfigError);
  const found = error as RigConfigError;
  expect({ keyPath: found.keyPath, line: found.line, column: found.column }).toEqual({ keyPath, line, column });
  for (const part of parts) expect(found.message).toContain(part);
}

describe('appReady', () => {
  it('reads each form into one setting', () => {
    expect(rig('    appReady: none\n').appReady).toEqual({ form: 'none' });
    expect(rig('    appReady: { banner: "^my-app (?<version>\\\\S+) up$" }\n').appReady)
      .toEqual({ form: 'console-banner', banner: '^my-app (?<version>\\S+) up$' });
    expect(rig('    appReady: { banner: "^up$", port: /dev/ttyACM1, baud: 921600 }\n    console: { path: /dev/ttyACM0 }\n    usb: { portPath: "1-2" }\n', 'nucleo-h745').appReady)
      .toEqual({ form: 'console-banner', banner: '^up$', port: '/dev/ttyACM1', baud: 921600 });
    expect(rig('    usb: { app: "1209:0001", dfuRuntime: }\n    appReady: { usb: "1209:0001", product: "^(?<name>\\\\S+) (?<version>\\\\S+)$" }\n').appReady)
      .toEqual({ form: 'usb-device', usb: { vendorId: 0x1209, productId: 0x0001 }, product: '^(?<name>\\S+) (?<version>\\S+)$' });
    expect(rig('    probe: {}\n    appReady: { gpio: PE1, level: 1 }\n').appReady).toEqual({ form: 'gpio-level', gpio: 'PE1', level: 1 });
    expect(rig('    appReady: { settleMs: 500 }\n').appReady).toEqual({ form: 'settle-time', settleMs: 500 });
    expect(rig('').appReady).toBeUndefined();
  });

  it.each([
    ['a word that is not a form', '    appReady: ready\n', 'rigs.r.appReady', 4, 15, ['found "ready"', 'expected none, or a mapping with one of "banner", "usb", "gpio" or "settleMs"']],
    ['a mapping with no form', '    appReady: { port: /dev/ttyACM1 }\n', 'rigs.r.appReady', 4, 15, ['expected none, or a mapping with one of']],
    ['two forms at once', '    appReady: { banner: "^up$", settleMs: 5 }\n', 'rigs.r.appReady', 4, 15, ['expected one form, not "banner" and "settleMs"']],
    ['a banner that is no regular expression', '    appReady: { banner: "^up (" }\n', 'rigs.r.appReady.banner', 4, 25, ['found "^up ("', 'expected a regular expression like', 'Unterminated group']],
    ['a misspelt key', '    appReady: { baner: "^up$" }\n', 'rigs.r.appReady.baner', 4, 17, ['unknown key "baner"', 'did you mean "banner"?']],
    ['a pin with no level', '    probe: {}\n    appReady: { gpio: PB0 }\n', 'rigs.r.appReady.gpio', 5, 23, ['expected a "level: 0" or "level: 1" next to it']],
    ['a level of 2', '    probe: {}\n    appReady: { gpio: PB0, level: 2 }\n', 'rigs.r.appReady.level', 5, 35, ['found 2', 'expected 0 or 1']],
    ['a pin but no probe', '    appReady: { gpio: PB0, level: 1 }\n', 'rigs.r.appReady.gpio', 4, 23, ['expected a "probe:" section on this rig too']],
    ['a product pattern without usb', '    appReady: { settleMs: 5, product: "x" }\n', 'rigs.r.appReady.product', 4, 39, ['expected "product" only with "usb"']],
    ['a negative settle time', '    appReady: { settleMs: -1 }\n', 'rigs.r.appReady.settleMs', 4, 27, ['expected a settle time of 0 ms or more']],
    ['another port on a simulated board', '    appReady: { banner: "^up$", port: /dev/ttyACM1 }\n', 'rigs.r.appReady.port', 4, 39, ['expected no "port:" on a simulated rig']],
  ] satisfies Broken[])('names the key, line and expected form for %s', (...broken) => expectProblem(broken));
});

describe('the run-time interface and the entries of the application\'s own', () => {
  it('reads usb.dfuRuntime, entry.dfu-detach and entry.console-command', () => {
    const r = rig('    usb: { app: "1209:0001", dfuRuntime: }\n    entry:\n      dfu-detach: { detachTimeoutMs: 250 }\n      console-command: { send: update }\n');
    expect(r.usb.dfuRuntime).toEqual({ willDetach: false });
    expect(r.entry['dfu-detach']).toEqual({ detachTimeoutMs: 250 });
    expect(r.entry['console-command']).toEqual({ send: 'update' });
    expect(rig('    usb: { app: "1209:0001", dfuRuntime: { willDetach: true, detachTimeoutMs: 2000 } }\n    entry: { dfu-detach: }\n').usb.dfuRuntime)
      .toEqual({ willDetach: true, detachTimeoutMs: 2000 });
    // A board says what its firmware offers by its application's id and the entry alone.
    const bench = rig('    usb: { app: "1209:0001", portPath: "1-4.2" }\n    console: { path: /dev/ttyACM0 }\n    entry: { dfu-detach: }\n', 'nucleo-h745');
    expect(bench.entry['dfu-detach']).toEqual({});
  });

  it.each([
    ['dfu-detach without the application\'s id', '    entry: { dfu-detach: }\n', 'rigs.r.entry.dfu-detach', 4, 14, ['expected usb.app too']],
    ['dfu-detach on a simulated rig whose application offers no interface', '    usb: { app: "1209:0001" }\n    entry: { dfu-detach: }\n', 'rigs.r.entry.dfu-detach', 5, 14, ['expected usb.dfuRuntime on a simulated rig too']],
    ['a run-time interface with no id', '    usb: { dfuRuntime: { willDetach: true } }\n', 'rigs.r.usb.dfuRuntime', 4, 24, ['expected usb.app too']],
    ['a detach timeout past 16 bits', '    usb: { app: "1209:0001", dfuRuntime: { detachTimeoutMs: 70000 } }\n', 'rigs.r.usb.dfuRuntime.detachTimeoutMs', 4, 61, ['found 70000', 'expected at most 65535 ms']],
    ['a command of two lines', '    entry: { console-command: { send: "a\\nb" } }\n', 'rigs.r.entry.console-command.send', 4, 39, ['expected the line to send, like "update"']],
    ['a command with nothing to send', '    entry: { console-command: {} }\n', 'rigs.r.entry.console-command.send', 4, 31, ['found nothing (the key is missing)', 'expected the line to send']],
    ['an appReady device other than the simulated application\'s', '    usb: { app: "1209:0001", dfuRuntime: }\n    appReady: { usb: "1209:0002" }\n', 'rigs.r.appReady.usb', 5, 22, ['expected usb.app\'s id, with usb.dfuRuntime']],
  ] satisfies Broken[])('names the key, line and expected form for %s', (...broken) => expectProblem(broken));

  it('keeps usb.dfuRuntime to simulated rigs', () => {
    expectProblem(['a board', '    usb: { app: "1209:0001", portPath: "1-4", dfuRuntime: }\n    console: { path: /dev/ttyACM0 }\n',
      'rigs.r.usb.dfuRuntime', 4, 47, ['expected "dfuRuntime" only on a simulated rig']], 'nucleo-h745');
  });
});

describe('another board of the family (kind stm32h7)', () => {
  const board = [
    '    usb: { app: "1209:0001", serial: "3A0043001851", portPath: "1-4.2" }',
    '    console: { path: /dev/serial/by-id/usb-FTDI_TTL232R_FT4XYZ-if00-port0, baud: 921600 }',
    '    probe: { tool: openocd, openocdConfig: board/my-board.cfg }',
    '    bootloader:',
    '      layout: { flash: "@Internal Flash   /0x08000000/08*128Kg" }',
    '    pins: { led: PE1 }',
    '    firmware: { reference: build/my-app.hex }',
    '    entry: { dfu-detach:, probe: }',
    '    appReady: { gpio: PE1, level: 1 }',
    '',
  ].join('\n');

  it('describes its layout, its console, its pins and its own firmware, with no NUCLEO defaults', () => {
    const r = rig(board, 'stm32h7');
    expect(r.kind).toBe('stm32h7');
    expect(r.bootloader.layout.flash).toBe('@Internal Flash   /0x08000000/08*128Kg');
    expect(r.console).toEqual({ path: '/dev/serial/by-id/usb-FTDI_TTL232R_FT4XYZ-if00-port0', baud: 921600 });
    expect(r.pins).toEqual({ led: 'PE1' });
    expect(r.probe).toEqual({ tool: 'openocd', openocdConfig: 'board/my-board.cfg' });
    expect(r.firmware).toMatchObject({ console: false });
    const bare = rig('    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    probe: { tool: st-flash }\n', 'stm32h7');
    // No LED and no openocd board file are assumed for a board that is not the NUCLEO.
    expect(bare.pins).toEqual({});
    expect(bare.probe).toEqual({ tool: 'st-flash' });
    // The NUCLEO (and the simulated one) keep theirs.
    expect(rig('    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    probe: { tool: openocd }\n', 'nucleo-h745'))
      .toMatchObject({ pins: { led: 'PB0' }, probe: { openocdConfig: 'board/st_nucleo_h745zi.cfg' } });
  });

  it.each([
    ['an openocd probe with no config of its own', '    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    probe: { tool: openocd }\n', 'rigs.r.probe', 6, 12, ['expected "openocdConfig:" on a board of kind stm32h7']],
    ['no console', '    usb: { portPath: "1-2" }\n', 'rigs.r.console.path', 3, 5, ['expected a serial device path']],
    ['no way to tell the board apart', '    console: { path: /dev/ttyACM0 }\n', 'rigs.r.usb', 3, 5, ['expected usb.serial or usb.portPath']],
    ['firmware of its own that says nothing of being up', '    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    probe: {}\n    firmware: { reference: a.hex }\n    entry: { probe: }\n', 'rigs.r.firmware', 7, 15, ['expected an "appReady:" too']],
    ['a pin that is not one', '    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    pins: { led: E1 }\n', 'rigs.r.pins.led', 6, 18, ['found "E1"', 'expected a pin name like "PG2"']],
  ] satisfies Broken[])('names the key, line and expected form for %s', (...broken) => expectProblem(broken, 'stm32h7'));
});
