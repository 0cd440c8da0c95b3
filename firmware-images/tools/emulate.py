#!/usr/bin/python3
# A smoke run of the CM7 test application without a board: Unicorn's Cortex-M7 executes the
# image, and small register models stand in for RCC, PWR, GPIO, USART3, FLASH option status,
# SysTick and SCB. Software resets keep DTCM (so `dfu jump`'s magic word is exercised), and a
# stub at the ROM bootloader's entry (0x1FF09800) shows when the image jumps there.
#
# The models are only as good as their authors' reading of RM0399; this checks the firmware's
# logic and its console text, not the silicon. Not part of the test gate.
#
#   apt-get install --no-install-recommends python3-unicorn
#   /usr/bin/python3 firmware-images/tools/emulate.py images/testapp-1.0.0.bin images/cm4-idle-1.0.0.bin version boot "pin PB0 1" gpio "dfu jump"
#
# (pass - for the CM4 image to see bank 2 erased: `boot` then reports cm4=lockup)
import sys
from unicorn import *
from unicorn.arm_const import *

IMG = open(sys.argv[1], 'rb').read()
CM4 = open(sys.argv[2], 'rb').read() if len(sys.argv) > 2 and sys.argv[2] != '-' else b''
script = sys.argv[3:] if len(sys.argv) > 3 else []

RESET_GPIO = {0: (0xABFFFFFF, 0, 0x0C000000, 0x64000000), 1: (0xFFFFFEBF, 0, 0xC0, 0x100)}

class Board:
    def __init__(self):
        self.dtcm = bytearray(0x20000)
        self.rsr = (1<<23)|(1<<22)|(1<<21)|(1<<20)|(1<<19)|(1<<18)|(1<<17)
        self.cr3 = 0x46
        self.cr3_writes = 0
        self.out = b''
        self.rx = b''
        self.bl_entered = False
        self.reset_gpio()
        self.ahb4 = 0
        self.apb1l = 0
        self.syst = 0
        self.syst_reads = 0
    def reset_gpio(self):
        self.gpio = []
        for p in range(11):
            m, ot, os, pu = RESET_GPIO.get(p, (0xFFFFFFFF, 0, 0, 0))
            self.gpio.append({0: m, 4: ot, 8: os, 0xC: pu, 0x14: 0, 0x20: 0, 0x24: 0})

b = Board()
events = []

def make_uc():
    uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
    uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M7)
    uc.mem_map(0x08000000, 0x200000, UC_PROT_READ | UC_PROT_EXEC)
    uc.mem_write(0x08000000, IMG)
    uc.mem_write(0x08100000, CM4 if CM4 else b'\xff' * 16)
    uc.mem_map(0x1FF00000, 0x20000, UC_PROT_ALL)
    # Fake bootloader: vector at 0x1FF09800 -> MSP 0x20004000, PC 0x1FF0A001 (b .)
    uc.mem_write(0x1FF09800, (0x20004000).to_bytes(4, 'little') + (0x1FF0A001).to_bytes(4, 'little'))
    uc.mem_write(0x1FF0A000, b'\xfe\xe7')
    uc.mem_map(0x20000000, 0x20000, UC_PROT_ALL)
    uc.mem_write(0x20000000, bytes(b.dtcm))

    def gpio_read(uc, off, size, _):
        port, reg = off // 0x400, off % 0x400
        if port < 11:
            if not (b.ahb4 >> port) & 1: return 0
            return b.gpio[port].get(reg, 0)
        return 0
    def gpio_write(uc, off, size, val, _):
        port, reg = off // 0x400, off % 0x400
        if port >= 11 or not (b.ahb4 >> port) & 1:
            events.append(f'GPIO write with clock off {port} {reg:#x}'); return
        if reg == 0x18:
            b.gpio[port][0x14] = (b.gpio[port][0x14] | (val & 0xFFFF)) & ~(val >> 16)
        else:
            b.gpio[port][reg] = val
    uc.mmio_map(0x58020000, 0x4000, gpio_read, None, gpio_write, None)

    def rcc_read(uc, off, size, _):
        a = 0x58024000 + off
        if a == 0x58024530: return b.rsr
        if a == 0x58024540: return b.ahb4
        if a == 0x58024548: return b.apb1l
        if a == 0x5802480C: return b.cr3
        if a == 0x58024804: return 1 << 13 if b.cr3_writes <= 1 else 0
        if a == 0x58024400: return 0x25  # HSION, HSIRDY, HSIDIVF: the reset value's HSI bits
        return 0
    def rcc_write(uc, off, size, val, _):
        a = 0x58024000 + off
        if a == 0x58024530:
            if val & (1 << 16): b.rsr = 0
        elif a == 0x58024540: b.ahb4 = val
        elif a == 0x58024548: b.apb1l = val
        elif a == 0x5802480C:
            b.cr3_writes += 1; b.cr3 = val; events.append(f'PWR_CR3 <- {val:#010x}')
        elif a == 0x58024490: events.append(f'APB1LRSTR <- {val:#x}')
        elif a == 0x58024410: events.append(f'RCC_CFGR <- {val:#x}')
    uc.mmio_map(0x58024000, 0x1000, rcc_read, None, rcc_write, None)

    def usart_read(uc, off, size, _):
        if off == 0x1C:
            v = (1 << 7) | (1 << 6)
            if b.rx: v |= 1 << 5
            return v
        if off == 0x24:
            c = b.rx[0]; b.rx = b.rx[1:]; return c
        return 0
    def usart_write(uc, off, size, val, _):
        if off == 0x28:
            if not (b.apb1l >> 18) & 1: events.append('TDR write with USART3 clock off')
            b.out += bytes([val & 0xFF])
        elif off == 0x0C: events.append(f'BRR <- {val}')
    uc.mmio_map(0x40004800, 0x400, usart_read, None, usart_write, None)

    def flash_read(uc, off, size, _):
        if off == 0x1C: return (1 << 22) | (1 << 23) | 0xAA00
        if off == 0x48: return 0x10000810
        return 0
    uc.mmio_map(0x52002000, 0x1000, flash_read, None, lambda *a: None, None)

    def scs_read(uc, off, size, _):
        a = 0xE000E000 + off
        if a == 0xE000E010:
            b.syst_reads += 1
            return b.syst | (1 << 16 if b.syst & 1 else 0)
        return 0
    def scs_write(uc, off, size, val, _):
        a = 0xE000E000 + off
        if a == 0xE000E010: b.syst = val
        elif a == 0xE000E014: events.append(f'SYST_RVR <- {val}') if val else None
        elif a == 0xE000ED0C:
            if val & 4 and (val >> 16) == 0x05FA:
                events.append('SYSRESETREQ'); uc.emu_stop(); b.pending_reset = True
        elif 0xE000E180 <= a < 0xE000E1A0 or 0xE000E280 <= a < 0xE000E2A0: pass
    uc.mmio_map(0xE000E000, 0x1000, scs_read, None, scs_write, None)
    return uc

def boot():
    global uc
    b.pending_reset = False
    uc = make_uc()
    sp = int.from_bytes(IMG[0:4], 'little'); pc = int.from_bytes(IMG[4:8], 'little')
    uc.reg_write(UC_ARM_REG_SP, sp)
    return pc

def run(pc, steps=3_000_000):
    try:
        uc.emu_start(pc | 1, 0xFFFFFFFF, count=steps)
    except UcError as e:
        print('UC ERROR', e, hex(uc.reg_read(UC_ARM_REG_PC)))
        raise SystemExit(1)
    return uc.reg_read(UC_ARM_REG_PC)

def software_reset():
    b.dtcm = bytearray(uc.mem_read(0x20000000, 0x20000))
    b.rsr = (1 << 24) | (1 << 22) | (1 << 18) | (1 << 17)
    b.reset_gpio(); b.ahb4 = 0; b.apb1l = 0

pc = boot()
for cmd in [None] + script:
    if cmd is not None:
        b.rx = (cmd + '\n').encode()
    pc = run(pc)
    if b.pending_reset:
        software_reset(); pc = boot(); pc = run(pc)
    if pc & ~1 == 0x1FF0A000:
        events.append(f'BOOTLOADER entered, sp={uc.reg_read(UC_ARM_REG_SP):#x}')
    sys.stdout.write(f'--- {cmd!r}\n' + b.out.decode('latin1'))
    for e in events: print('  [', e, ']')
    events.clear(); b.out = b''
    if pc & ~1 == 0x1FF0A000: break
print('magic now', uc.mem_read(0x2001FFF0, 8).hex())
