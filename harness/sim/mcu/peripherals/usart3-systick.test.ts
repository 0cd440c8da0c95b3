// USART3 and SysTick by register offset, with the time they see set by hand.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../clock/virtual-clock.js';
import { Exception } from '../../cpu/exception-model.js';
import { Rcc } from '../../rcc/rcc.js';
import { ConsoleTranscript } from '../../uart/console-transcript.js';
import { ConsoleUart } from '../../uart/console-uart.js';
import { RccPeripheral, RccRegister } from './rcc-peripheral.js';
import { SysTickPeripheral, SysTickRegister } from './systick-peripheral.js';
import { UsartBit, UsartRegister, Usart3Peripheral } from './usart3-peripheral.js';

function usart() {
  const clock = new VirtualClock();
  const uart = new ConsoleUart(clock);
  const rcc = new RccPeripheral(new Rcc());
  let now = 0;
  const irq: boolean[] = [];
  const wakes: number[] = [];
  const u = new Usart3Peripheral({ uart, rcc, now: () => now, setIrq: (h) => irq.push(h), wake: (at) => wakes.push(at) });
  const transcript = new ConsoleTranscript(clock, uart.host);
  const enable = (): void => {
    rcc.write32(RccRegister.APB1LENR, 1 << 18);
    u.write32(UsartRegister.BRR, 556);
    u.write32(UsartRegister.CR1, UsartBit.UE | UsartBit.RE | UsartBit.TE);
  };
  return { clock, uart, rcc, u, transcript, irq, wakes, enable, at: (t: number) => { now = t; } };
}

describe('Usart3Peripheral', () => {
  it('is silent and reads 0 until RCC clocks it', () => {
    const { u } = usart();
    u.write32(UsartRegister.CR1, UsartBit.UE);
    expect(u.read32(UsartRegister.CR1)).toBe(0);
  });

  it('sends TDR bytes at 115200 8N1: TXE after the byte moves to the shift register, TC after its stop bit', async () => {
    const s = usart();
    s.enable();
    const byte = s.uart.byteTimeMs;
    s.at(0);
    s.u.write32(UsartRegister.TDR, 0x4f);
    s.u.write32(UsartRegister.TDR, 0x4b);
    expect(s.u.read32(UsartRegister.ISR) & (UsartBit.TXE | UsartBit.TC)).toBe(0);
    s.at(byte);
    expect(s.u.read32(UsartRegister.ISR) & (UsartBit.TXE | UsartBit.TC)).toBe(UsartBit.TXE);
    expect(s.u.nextEventAfter(byte)).toBeCloseTo(2 * byte);
    s.at(2 * byte);
    expect(s.u.read32(UsartRegister.ISR) & UsartBit.TC).toBe(UsartBit.TC);
    s.u.write32(UsartRegister.TDR, 0x0d);
    s.u.write32(UsartRegister.TDR, 0x0a);
    await s.clock.sleep(5);
    expect(s.transcript.lines.map((l) => l.text)).toEqual(['OK']);
  });

  it('receives a byte per stop bit; one arriving while RXNE is still set is lost with ORE', () => {
    const s = usart();
    s.enable();
    s.uart.host.write(Buffer.from('ab'));
    const byte = s.uart.byteTimeMs;
    expect(s.wakes[0]).toBeCloseTo(byte);
    s.at(1.5 * byte);
    expect(s.u.read32(UsartRegister.ISR) & UsartBit.RXNE).toBe(UsartBit.RXNE);
    expect(s.u.read32(UsartRegister.RDR)).toBe(0x61);
    s.at(2 * byte);
    expect(s.u.read32(UsartRegister.RDR)).toBe(0x62);
    s.uart.host.write(Buffer.from('cd'));
    s.at(10 * byte);
    const isr = s.u.read32(UsartRegister.ISR);
    expect(isr & (UsartBit.RXNE | UsartBit.ORE)).toBe(UsartBit.RXNE | UsartBit.ORE);
    expect(s.u.read32(UsartRegister.RDR)).toBe(0x63);
    s.u.write32(UsartRegister.ICR, UsartBit.ORE);
    expect(s.u.read32(UsartRegister.ISR) & UsartBit.ORE).toBe(0);
  });

  it('drops what arrives before the receiver is enabled', () => {
    const s = usart();
    s.uart.host.write(Buffer.from('x'));
    s.at(1);
    s.enable();
    expect(s.u.read32(UsartRegister.ISR) & UsartBit.RXNE).toBe(0);
  });

  it('garbles both directions when BRR does not match the line (framing errors)', async () => {
    const s = usart();
    s.enable();
    s.u.write32(UsartRegister.CR1, 0);
    s.u.write32(UsartRegister.BRR, 278);
    s.u.write32(UsartRegister.CR1, UsartBit.UE | UsartBit.RE | UsartBit.TE);
    expect(s.u.baudRate()).toBeCloseTo(230_215, -1);
    s.uart.host.write(Buffer.from('z'));
    s.at(1);
    expect(s.u.read32(UsartRegister.ISR) & UsartBit.FE).toBe(UsartBit.FE);
    const seen: number[] = [];
    s.uart.host.onData((bytes) => seen.push(...bytes));
    s.u.write32(UsartRegister.TDR, 0x41);
    s.u.write32(UsartRegister.TDR, 0x0a);
    await s.clock.sleep(5);
    expect(seen).toEqual([0xff, 0xff]);
  });

  it('raises its interrupt line for RXNE when RXNEIE is set', () => {
    const s = usart();
    s.enable();
    s.u.write32(UsartRegister.CR1, UsartBit.UE | UsartBit.RE | UsartBit.TE | UsartBit.RXNEIE);
    s.uart.host.write(Buffer.from('q'));
    s.u.advanceTo(1);
    expect(s.irq.at(-1)).toBe(true);
    s.u.read32(UsartRegister.RDR);
    expect(s.irq.at(-1)).toBe(false);
  });
});

describe('SysTickPeripheral', () => {
  function systick() {
    let now = 0;
    const pended: number[] = [];
    const st = new SysTickPeripheral({ now: () => now, coreHz: () => 64_000_000, pend: (n) => pended.push(n) });
    return { st, pended, at: (t: number) => { now = t; } };
  }

  it('counts down from RVR on the core clock and sets COUNTFLAG once per wrap, cleared by reading CSR', () => {
    const { st, at } = systick();
    st.write32(SysTickRegister.RVR, 63_999);
    st.write32(SysTickRegister.CVR, 0);
    st.write32(SysTickRegister.CSR, 0b101);
    expect(st.nextEventAfter(0)).toBeCloseTo(1, 6);
    at(0.5);
    expect(st.read32(SysTickRegister.CVR)).toBe(32_000);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(0);
    at(1);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(1 << 16);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(0);
    at(3.2);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(1 << 16);
  });

  it('pends the SysTick exception at each wrap with TICKINT, and nothing once disabled', () => {
    const { st, pended, at } = systick();
    st.write32(SysTickRegister.RVR, 6_399);
    st.write32(SysTickRegister.CSR, 0b111);
    at(0.05);
    st.advanceTo(0.05);
    expect(pended).toEqual([]);
    at(0.1);
    st.advanceTo(0.1);
    expect(pended).toEqual([Exception.SysTick]);
    st.write32(SysTickRegister.CSR, 0);
    expect(st.interrupting).toBe(false);
    expect(st.nextEventAfter(1)).toBeUndefined();
  });

  it('counts the core clock divided by 8 with CLKSOURCE clear', () => {
    const { st, at } = systick();
    st.write32(SysTickRegister.RVR, 7_999);
    st.write32(SysTickRegister.CSR, 0b001);
    at(0.5);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(0);
    at(1);
    expect(st.read32(SysTickRegister.CSR) & (1 << 16)).toBe(1 << 16);
  });
});
