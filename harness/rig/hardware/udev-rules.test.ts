import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../reference-images.js';

/** One rule line as key/operator/value triples. */
function parseRule(line: string): Map<string, { op: string; value: string }> {
  const fields = new Map<string, { op: string; value: string }>();
  for (const m of line.matchAll(/([A-Za-z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|:=|=)\s*"([^"]*)"/g)) fields.set(m[1]!, { op: m[2]!, value: m[3]! });
  return fields;
}

describe('udev/99-dfu-hil.rules', () => {
  it('grants plugdev and the seat user access to the DFU bootloader and every ST-LINK/V3 id', async () => {
    const text = await readFile(path.join(REPO_ROOT, 'udev', '99-dfu-hil.rules'), 'utf8');
    const rules = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#')).map(parseRule);
    const ids = rules.map((r) => `${r.get('ATTRS{idVendor}')?.value}:${r.get('ATTRS{idProduct}')?.value}`);
    expect(ids.sort()).toEqual(['0483:374e', '0483:374f', '0483:3753', '0483:df11']);
    for (const rule of rules) {
      expect(rule.get('SUBSYSTEM')).toEqual({ op: '==', value: 'usb' });
      expect(rule.get('ATTRS{idVendor}')!.op).toBe('==');
      expect(rule.get('MODE')).toEqual({ op: '=', value: '0660' });
      expect(rule.get('GROUP')).toEqual({ op: '=', value: 'plugdev' });
      expect(rule.get('TAG')).toEqual({ op: '+=', value: 'uaccess' });
    }
    expect(text).toMatch(/sudo cp udev\/99-dfu-hil\.rules \/etc\/udev\/rules\.d\/ && sudo udevadm control --reload && sudo udevadm trigger/);
  });
});
