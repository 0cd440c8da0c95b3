import { describe, expect, it } from 'vitest';
import { compareGpio, describeGpioMismatches, gpioExpectationAfterLeave, gpioResetValues, resetSnapshot } from './gpio-expectation.js';
import { parseRigs } from './config/load-rigs.js';

const rigsYaml = (exceptions: string): string => `
default: r
rigs:
  r:
    kind: sim
    expect:
      gpioAfterLeave:
        exceptions:${exceptions}
`;

describe('GPIO expectation after leave', () => {
  it('uses the RM0399 reset values as the baseline', () => {
    expect(gpioResetValues('A')).toMatchObject({ MODER: 0xabffffff, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0 });
    expect(gpioResetValues('B')).toMatchObject({ MODER: 0xfffffebf, OSPEEDR: 0x000000c0, PUPDR: 0x00000100 });
    expect(gpioResetValues('K')).toMatchObject({ MODER: 0xffffffff, OSPEEDR: 0, PUPDR: 0 });
    const config = parseRigs(rigsYaml(' []'), 'rigs.yaml').rigs.get('r')!;
    expect(compareGpio(resetSnapshot(), gpioExpectationAfterLeave(config))).toEqual([]);
  });

  it('folds a rig exception into the expected value and names it in mismatches', () => {
    const config = parseRigs(rigsYaml(`
          - { port: A, register: MODER, mask: "0x03C00000", value: "0x02800000", reason: "ROM leaves PA11/PA12 in AF" }`), 'rigs.yaml').rigs.get('r')!;
    const expectation = gpioExpectationAfterLeave(config);
    const moderA = expectation.find((e) => e.port === 'A' && e.register === 'MODER')!;
    expect(moderA.value).toBe(0xaabfffff);
    const mismatches = compareGpio(resetSnapshot(), expectation);
    expect(mismatches).toEqual([{ port: 'A', register: 'MODER', expected: 0xaabfffff, actual: 0xabffffff, mask: 0xffffffff, reason: 'ROM leaves PA11/PA12 in AF' }]);
    expect(describeGpioMismatches(mismatches)).toBe('GPIOA_MODER: expected 0xAABFFFFF, read 0xABFFFFFF (ROM leaves PA11/PA12 in AF)');
  });

  it('reports a driven pin and a missing port', () => {
    const config = parseRigs(rigsYaml(' []'), 'rigs.yaml').rigs.get('r')!;
    const snapshot = resetSnapshot();
    snapshot.B = { ...gpioResetValues('B'), MODER: 0xfffffebd, ODR: 0x1 };
    delete snapshot.K;
    const found = compareGpio(snapshot, gpioExpectationAfterLeave(config)).map((m) => `${m.port}.${m.register}`);
    expect(found).toEqual(['B.MODER', 'B.ODR', ...['MODER', 'OTYPER', 'OSPEEDR', 'PUPDR', 'ODR', 'AFRL', 'AFRH'].map((r) => `K.${r}`)]);
  });
});
