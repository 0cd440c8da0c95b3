// The rigs.yaml settings for a team's own firmware: how the rig tells the application is up
// (appReady), the application's DFU run-time interface, the entries that use it or a command of
// its own, and a board of the family other than the NUCLEO.
import { describe, expect, it } from 'vitest';
import { parseRigs, RigConfigError } from './load-rigs.js';

function rig(body: string, kind = 'sim') {
  return parseRigs(`rigs:\n  r:\n    kind: ${kind}\n${body}`, 'rigs.yaml').rigs.get('r')!;
}

function problem(body: string, kind = 'sim'): { keyPath: string; line: number; column: number; message: string } {
  try {
    rig(body, kind);
  } catch (error) {
    if (!(error instanceof RigConfigError)) throw error;
    return { keyPath: error.keyPath!, line: error.line!, column: error.column!, message: error.message };
  }
  throw new Error('expected a RigConfigError');
}

describe('appReady', () => {
  it('reads each form into one setting', () => {
    expect(rig('    appReady: none\n').appReady).toEqual({ form: 'none' });
    expect(rig('    appReady: { banner: "^my-app (?<version>\\\\S+) up$" }\n').appReady)
      .toEqual({ form: 'console-banner', banner: '^my-app (?<version>\\S+) up$' });
    expect(rig('    appReady: { banner: "^up$", port: /dev/ttyACM1, baud: 921600 }\n    console: { path: /dev/ttyACM0 }\n    usb: { portPath: "1-2" }\n', 'nucleo-h745').appReady)
      .toEqual({ form: 'console-banner', banner: '^up$', port: '/dev/ttyACM1', baud: 921600 });
    expect(rig('    appReady: { usb: "1209:0001", product: "^(?<name>\\\\S+) (?<version>\\\\S+)$" }\n').appReady)
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
  ] as const)('names the key, line and expected form for %s', (_name, body, keyPath, line, column, parts) => {
    const p = problem(body);
    expect({ keyPath: p.keyPath, line: p.line, column: p.column }).toEqual({ keyPath, line, column });
    for (const part of parts) expect(p.message).toContain(part);
  });
});
