import { describe, expect, it } from 'vitest';
import { fullSpeedControlTransferMs } from './full-speed-timing.js';

describe('fullSpeedControlTransferMs (USB 2.0 §8.3–8.5 packet sizes at 12 Mbit/s)', () => {
  it('a 1024-byte DNLOAD: SETUP + 16 × 64-byte OUT transactions + status = 10128 bit times', () => {
    expect(fullSpeedControlTransferMs(1024)).toBeCloseTo(10128 / 12000, 9);
    expect(fullSpeedControlTransferMs(1024)).toBeCloseTo(0.844, 3);
  });

  it('a GETSTATUS (6-byte IN data stage): 424 bit times, about 35 µs', () => {
    expect(fullSpeedControlTransferMs(6)).toBeCloseTo(424 / 12000, 9);
  });

  it('a request with no data stage is SETUP + status only', () => {
    expect(fullSpeedControlTransferMs(0)).toBeCloseTo((168 + 104) / 12000, 9);
  });

  it('a short last packet costs only its bytes; a 65-byte stage takes two packets', () => {
    const one = fullSpeedControlTransferMs(64);
    const two = fullSpeedControlTransferMs(65);
    expect(two - one).toBeCloseTo((104 + 8) / 12000, 9);
  });

  it('a smaller EP0 packet size means more transactions for the same bytes', () => {
    expect(fullSpeedControlTransferMs(1024, 8)).toBeGreaterThan(fullSpeedControlTransferMs(1024, 64));
  });
});
