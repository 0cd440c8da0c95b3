/* Register-level drivers for the NUCLEO-H745ZI-Q test application (addresses and bits: regs.h). */
#include <stdint.h>
#include "regs.h"
#include "hw.h"
#include "version_block.h"

/* Build settings (Makefile): the RC charge pin, its charge time, and the clock the console and delays assume. */
#ifndef RC_PORT_CHAR
#define RC_PORT_CHAR 'G'
#endif
#ifndef RC_PIN
#define RC_PIN 2
#endif
#ifndef RC_CHARGE_MS
#define RC_CHARGE_MS 10
#endif
/* The HSI at reset: 64 MHz with HSIDIV = 1, and every bus prescaler at 1 (RM0399 RCC reset values). */
#ifndef CPU_HZ
#define CPU_HZ 64000000u
#endif
#ifndef CONSOLE_BAUD
#define CONSOLE_BAUD 115200u
#endif

_Static_assert(RC_PORT_CHAR >= 'A' && RC_PORT_CHAR <= 'K', "RC_PORT_CHAR must be a port letter A..K");
_Static_assert(RC_PIN >= 0 && RC_PIN <= 15, "RC_PIN must be 0..15");

/* USART3's kernel clock is rcc_pclk1 after reset (D2CCIP2R.USART234578SEL = 0), i.e. CPU_HZ; USARTDIV = 64 MHz / 115200 = 556 (RM0399, USART baud rate generation, OVER8 = 0). */
#define CONSOLE_BRR ((CPU_HZ + CONSOLE_BAUD / 2u) / CONSOLE_BAUD)

/* The magic word is fixed at DFU_MAGIC_ADDRESS by the linker script. */
__attribute__((section(".dfu_magic"))) static volatile uint64_t dfu_magic;

uint64_t dfu_magic_read(void)
{
    return dfu_magic;
}

/*
 * H7 RAM carries ECC over 64-bit words: a 32-bit store is merged in a write buffer and may
 * not reach the array before a reset, so the word is written by one STRD and followed by a
 * DSB (the MicroPython finding recorded in docs/stm32h7-facts.md §5).
 */
void dfu_magic_write(uint64_t value)
{
    uint32_t lo = (uint32_t)value, hi = (uint32_t)(value >> 32);
    __asm volatile("strd %0, %1, [%2]" :: "r"(lo), "r"(hi), "r"(&dfu_magic) : "memory");
    dsb();
}

void bootloader_jump(void)
{
    uint32_t sp = REG32(BOOTLOADER_BASE);
    uint32_t pc = REG32(BOOTLOADER_BASE + 4u);
#ifdef MUTANT_MSP_NOT_LOADED
    /* The mutant forgets the stack: the ROM starts on the application's. */
    (void)sp;
    __asm volatile("bx %0" :: "r"(pc) : "memory");
#else
    __asm volatile("msr msp, %0\n\tisb\n\tbx %1" :: "r"(sp), "r"(pc) : "memory");
#endif
    __builtin_unreachable();
}

/*
 * The NUCLEO-H745ZI-Q is wired for the internal SMPS feeding the core directly (UM2408;
 * ST's board files use PWR_DIRECT_SMPS_SUPPLY): SMPSEN = 1, LDOEN = 0, BYPASS = 0, no
 * external-supply mode. PWR_CR3's supply bits can be written once per power-up; a value
 * that does not match the wiring (the LDO default of most examples, or bypass) leaves the
 * core without a valid supply and the chip unreachable until it is connected under reset
 * or started from the ROM with BOOT0 high and mass-erased. Hence one write, only when the
 * bits differ: after a software reset they already hold this value and stay locked.
 */
void power_init(void)
{
    const uint32_t supply_bits = PWR_CR3_SMPSLEVEL | PWR_CR3_SMPSEXTHP | PWR_CR3_SMPSEN | PWR_CR3_LDOEN | PWR_CR3_BYPASS;
    uint32_t cr3 = REG32(PWR_CR3);
    uint32_t wanted = (cr3 & ~supply_bits) | PWR_CR3_SMPSEN;
    if (cr3 != wanted) REG32(PWR_CR3) = wanted;
    /* Until ACTVOSRDY the supply is not yet at the requested voltage scale; RM0399 asks for it before any clock change. */
    while ((REG32(PWR_CSR1) & PWR_CSR1_ACTVOSRDY) == 0) {
    }
}

/*
 * The console's BRR assumes the reset clock tree. After a reset that is what the chip has and
 * nothing here writes; after the bootloader's leave (a jump, not a reset) the ROM may not have
 * restored everything (AN2606 §4.1: "Occasionally, not all reset values are set"), so the
 * pieces USART3's baud depends on are put back: HSI undivided as SYSCLK, D1/D2 prescalers 1,
 * USART3 on pclk1. Clock sources and prescalers only ever go towards 64 MHz or below here.
 */
void clock_init(void)
{
    REG32(RCC_CR) |= RCC_CR_HSION;
    while ((REG32(RCC_CR) & RCC_CR_HSIRDY) == 0) {
    }
    if ((REG32(RCC_CFGR) & (RCC_CFGR_SW | RCC_CFGR_SWS)) != 0) {
        REG32(RCC_CFGR) &= ~RCC_CFGR_SW;
        while ((REG32(RCC_CFGR) & RCC_CFGR_SWS) != 0) {
        }
    }
    if ((REG32(RCC_CR) & RCC_CR_HSIDIV) != 0) {
        REG32(RCC_CR) &= ~RCC_CR_HSIDIV;
        while ((REG32(RCC_CR) & RCC_CR_HSIDIVF) == 0) {
        }
    }
    if (REG32(RCC_D1CFGR) != 0) REG32(RCC_D1CFGR) = 0;
    if (REG32(RCC_D2CFGR) != 0) REG32(RCC_D2CFGR) = 0;
    if ((REG32(RCC_D2CCIP2R) & RCC_D2CCIP2R_USART28SEL) != 0) REG32(RCC_D2CCIP2R) &= ~RCC_D2CCIP2R_USART28SEL;
#ifdef MUTANT_SYSTICK_RUNNING
    /* The mutant runs a 1 kHz tick interrupt, as HAL_Init does, and never stops it before the jump. */
    REG32(SYST_RVR) = CPU_HZ / 1000u - 1u;
    REG32(SYST_CVR) = 0;
    REG32(SYST_CSR) = SYST_CSR_CLKSOURCE | SYST_CSR_TICKINT | SYST_CSR_ENABLE;
#endif
}

static void gpio_field(unsigned port, uint32_t reg, unsigned shift, uint32_t width_mask, uint32_t value)
{
    uint32_t addr = GPIO_BASE(port) + reg;
    REG32(addr) = (REG32(addr) & ~(width_mask << shift)) | ((value & width_mask) << shift);
}

/* The same steps as the simulated GpioPort.setAlternate, so `gpio` reads alike on both boards. */
static void gpio_alternate(unsigned port, unsigned pin, unsigned af)
{
    if (pin < 8) gpio_field(port, GPIO_AFRL, pin * 4u, 0xFu, af);
    else gpio_field(port, GPIO_AFRH, (pin - 8u) * 4u, 0xFu, af);
    gpio_field(port, GPIO_OTYPER, pin, 1u, 0);
    gpio_field(port, GPIO_PUPDR, pin * 2u, 3u, 0);
    gpio_field(port, GPIO_MODER, pin * 2u, 3u, 2u);
}

void console_init(void)
{
    /* PD8 = USART3_TX, PD9 = USART3_RX, AF7: the ST-LINK virtual COM port (docs/stm32h7-facts.md §6). */
    gpio_alternate(3, 8, 7);
    gpio_alternate(3, 9, 7);
    REG32(RCC_C1_APB1LENR) |= RCC_APB1L_USART3;
    (void)REG32(RCC_C1_APB1LENR);
    REG32(USART_CR1) = 0;
    REG32(USART_BRR) = CONSOLE_BRR;
#ifdef MUTANT_IRQ_PENDING
    /*
     * The mutant uses USART3's receive interrupt as far as the NVIC goes: enabled there, masked by
     * PRIMASK while the application polls, so every received byte leaves IRQ 39 pending.
     */
    irq_disable();
    REG32(NVIC_ISER(USART3_IRQN / 32u)) = 1u << (USART3_IRQN % 32u);
    REG32(USART_CR1) = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE | USART_CR1_RXNEIE;
#else
    REG32(USART_CR1) = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE;
#endif
}

void console_putc(char c)
{
    while ((REG32(USART_ISR) & USART_ISR_TXE) == 0) {
    }
    REG32(USART_TDR) = (uint8_t)c;
}

void console_puts(const char *s)
{
    while (*s != '\0') console_putc(*s++);
}

void console_flush(void)
{
    while ((REG32(USART_ISR) & USART_ISR_TC) == 0) {
    }
}

int console_getc(void)
{
    uint32_t isr = REG32(USART_ISR);
    /* An overrun or framing error would otherwise stop reception until cleared. */
    if ((isr & (USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE)) != 0) REG32(USART_ICR) = USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE;
    if ((isr & USART_ISR_RXNE) == 0) return -1;
    return (int)(REG32(USART_RDR) & 0xFFu);
}

void gpio_read_registers(unsigned port, uint32_t out[GPIO_REG_COUNT])
{
    uint32_t base = GPIO_BASE(port);
    out[GPIO_REG_MODER] = REG32(base + GPIO_MODER);
    out[GPIO_REG_OTYPER] = REG32(base + GPIO_OTYPER);
    out[GPIO_REG_OSPEEDR] = REG32(base + GPIO_OSPEEDR);
    out[GPIO_REG_PUPDR] = REG32(base + GPIO_PUPDR);
    out[GPIO_REG_ODR] = REG32(base + GPIO_ODR);
    out[GPIO_REG_AFRL] = REG32(base + GPIO_AFRL);
    out[GPIO_REG_AFRH] = REG32(base + GPIO_AFRH);
}

/* Level first, then push-pull, then output mode: the pin never drives the old level. */
void gpio_drive(unsigned port, unsigned pin, unsigned level)
{
    REG32(GPIO_BASE(port) + GPIO_BSRR) = level ? (1u << pin) : (1u << (pin + 16u));
    gpio_field(port, GPIO_OTYPER, pin, 1u, 0);
    gpio_field(port, GPIO_MODER, pin * 2u, 3u, 1u);
}

/* RM0399 §12.4 reset values (docs/stm32h7-facts.md §7): ports A and B differ for the debug pins. */
static const uint32_t reset_moder[2] = {0xABFFFFFFu, 0xFFFFFEBFu};
static const uint32_t reset_ospeedr[2] = {0x0C000000u, 0x000000C0u};
static const uint32_t reset_pupdr[2] = {0x64000000u, 0x00000100u};

/* Puts one pin back to its reset configuration (analog, no pull on most pins): it stops driving and floats. */
void gpio_restore_pin(unsigned port, unsigned pin)
{
    uint32_t moder = port < 2 ? reset_moder[port] : 0xFFFFFFFFu;
    uint32_t ospeedr = port < 2 ? reset_ospeedr[port] : 0;
    uint32_t pupdr = port < 2 ? reset_pupdr[port] : 0;
    if (pin < 8) gpio_field(port, GPIO_AFRL, pin * 4u, 0xFu, 0);
    else gpio_field(port, GPIO_AFRH, (pin - 8u) * 4u, 0xFu, 0);
    gpio_field(port, GPIO_OTYPER, pin, 1u, 0);
    gpio_field(port, GPIO_OSPEEDR, pin * 2u, 3u, ospeedr >> (pin * 2u));
    gpio_field(port, GPIO_PUPDR, pin * 2u, 3u, pupdr >> (pin * 2u));
    REG32(GPIO_BASE(port) + GPIO_BSRR) = 1u << (pin + 16u);
    gpio_field(port, GPIO_MODER, pin * 2u, 3u, moder >> (pin * 2u));
}

/*
 * SysTick counting core clocks, polled (no interrupt is ever enabled): exact to the clock,
 * whatever the compiler does to a loop. The accuracy is the HSI's (about ±1 % untrimmed).
 */
#ifdef MUTANT_SYSTICK_RUNNING
static volatile uint32_t ticks;

void SysTick_Handler(void)
{
    ticks++;
}

/* The mutant's delay counts its tick interrupts, as HAL_Delay does. */
void delay_ms(uint32_t ms)
{
    uint32_t start = ticks;
    while (ticks - start < ms) {
    }
}
#else
void SysTick_Handler(void)
{
}

void delay_ms(uint32_t ms)
{
    REG32(SYST_CSR) = 0;
    REG32(SYST_RVR) = CPU_HZ / 1000u - 1u;
    REG32(SYST_CVR) = 0;
    REG32(SYST_CSR) = SYST_CSR_CLKSOURCE | SYST_CSR_ENABLE;
    while (ms-- > 0) {
        while ((REG32(SYST_CSR) & SYST_CSR_COUNTFLAG) == 0) {
        }
    }
    REG32(SYST_CSR) = 0;
}
#endif

/*
 * What the second core does, as far as the CM7 can tell without asking it: `off` when BCM4
 * is cleared, else `running` when the vector table at BOOT_CM4_ADD0 is valid code by the
 * rule of docs/image-version-block.md, `lockup` when it is not (an erased bank 2 gives the
 * CM4 an unusable MSP and PC). This is inferred, not observed: the CM4 may have faulted
 * later, and after a BOOT0-high reset it started from BOOT_CM4_ADD1 instead.
 */
const char *cm4_state(void)
{
    if ((REG32(FLASH_OPTSR_CUR) & FLASH_OPTSR_BCM4) == 0) return "off";
    uint32_t table = (REG32(FLASH_BOOT4_CUR) & 0xFFFFu) << 16;
    uint32_t msp = REG32(table), reset = REG32(table + 4u);
    int msp_ok = (msp & 3u) == 0 &&
        ((msp >= 0x20000000u && msp < 0x20020000u) || (msp >= 0x24000000u && msp < 0x24080000u) ||
         (msp >= 0x30000000u && msp < 0x30048000u) || (msp >= 0x38000000u && msp < 0x38010000u));
    uint32_t bank = table >= 0x08100000u ? 0x08100000u : 0x08000000u;
    int in_flash = table >= 0x08000000u && table < 0x08200000u;
    int reset_ok = (reset & 1u) != 0 && in_flash && (reset & ~1u) >= bank && (reset & ~1u) < bank + 0x100000u;
    return msp_ok && reset_ok ? "running" : "lockup";
}

/*
 * Flash words with an ECC error in the bank this image runs from. Each 256-bit flash word is read
 * once; the flash interface flags a corrected single error (SNECCERR) or a double one (DBECCERR,
 * RM0399 §4.7) in FLASH_SRx. A KiB at a time, then word by word only where a flag came up.
 * A double error also raises a bus error, which this build takes in Default_Handler.
 */
uint32_t flash_ecc_errors(void)
{
    uint32_t base = (uint32_t)(uintptr_t)&image_version_block & ~(FLASH_BANK_SIZE - 1u);
    unsigned bank = base >= FLASH_BANK2_BASE ? 1u : 0u;
    uint32_t count = 0;
    REG32(FLASH_CCR(bank)) = FLASH_SR_ECC;
    for (uint32_t chunk = base; chunk < base + FLASH_BANK_SIZE; chunk += 1024u) {
        for (uint32_t a = chunk; a < chunk + 1024u; a += FLASH_WORD_BYTES) (void)REG32(a);
        if ((REG32(FLASH_SR(bank)) & FLASH_SR_ECC) == 0) continue;
        REG32(FLASH_CCR(bank)) = FLASH_SR_ECC;
        for (uint32_t a = chunk; a < chunk + 1024u; a += FLASH_WORD_BYTES) {
            (void)REG32(a);
            if ((REG32(FLASH_SR(bank)) & FLASH_SR_ECC) != 0) {
                count++;
                REG32(FLASH_CCR(bank)) = FLASH_SR_ECC;
            }
        }
    }
    return count;
}

void system_reset(void)
{
    dsb();
    REG32(SCB_AIRCR) = SCB_AIRCR_VECTKEY | (REG32(SCB_AIRCR) & SCB_AIRCR_PRIGROUP) | SCB_AIRCR_SYSRESETREQ;
    dsb();
    for (;;) {
    }
}

/* Walks the L1 data cache by set and way (ARMv7-M B2.2.7) with the given maintenance register. */
static void dcache_by_set_way(uint32_t op_register)
{
    REG32(SCB_CSSELR) = 0; /* level 1, data */
    dsb();
    uint32_t ccsidr = REG32(SCB_CCSIDR);
    uint32_t sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
    uint32_t ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
    uint32_t line_shift = (ccsidr & 7u) + 4u;
    uint32_t way_shift = ways > 1u ? (uint32_t)__builtin_clz(ways - 1u) : 0u;
    for (uint32_t set = 0; set < sets; set++) {
        for (uint32_t way = 0; way < ways; way++) {
            REG32(op_register) = (way << way_shift) | (set << line_shift);
        }
    }
    dsb();
    isb();
}

/*
 * The magic word sits in DTCM, which the D-cache never holds, so this matters only if the
 * sources are adapted to keep it in cacheable RAM. The application never enables the caches.
 */
static void dcache_clean_if_enabled(void)
{
    if ((REG32(SCB_CCR) & SCB_CCR_DC) != 0) dcache_by_set_way(SCB_DCCSW);
}

static void caches_disable(void)
{
    if ((REG32(SCB_CCR) & SCB_CCR_DC) != 0) {
        REG32(SCB_CCR) &= ~SCB_CCR_DC;
        dsb();
        dcache_by_set_way(SCB_DCCISW);
    }
    if ((REG32(SCB_CCR) & SCB_CCR_IC) != 0) {
        REG32(SCB_CCR) &= ~SCB_CCR_IC;
        dsb();
        REG32(SCB_ICIALLU) = 0;
        dsb();
        isb();
    }
}

void dfu_enter_by_reset(void)
{
    dfu_magic_write(DFU_MAGIC);
    dcache_clean_if_enabled();
    system_reset();
}

/*
 * The AN2606 §4.1 / ST "jump to bootloader on STM32H7" sequence, run from the live
 * application (docs/stm32h7-facts.md §5). The application never leaves the reset clock tree
 * (HSI, no PLL, prescalers 1), so "clocks back to reset state" means handing back the
 * peripherals it clocked: USART3 is reset and unclocked, the GPIO clocks are switched off.
 * Pin configuration is kept as the application left it (register contents survive clock
 * gating), which is what `gpio` checks after the bootloader's leave compare against.
 */
void dfu_enter_direct(void)
{
    irq_disable();
#ifndef MUTANT_SYSTICK_RUNNING
    REG32(SYST_CSR) = 0;
    REG32(SYST_RVR) = 0;
    REG32(SYST_CVR) = 0;
#endif

    REG32(USART_CR1) = 0;
    REG32(RCC_APB1LRSTR) |= RCC_APB1L_USART3;
    REG32(RCC_APB1LRSTR) &= ~RCC_APB1L_USART3;
    REG32(RCC_C1_APB1LENR) &= ~RCC_APB1L_USART3;
    REG32(RCC_C1_AHB4ENR) &= ~RCC_AHB4ENR_GPIO_ALL;
    /* SW = HSI and every prescaler at 1 are already the case; written anyway so an adapted build cannot jump on a PLL. */
    REG32(RCC_CFGR) = 0;

#ifndef MUTANT_IRQ_PENDING
    for (unsigned i = 0; i < NVIC_WORDS; i++) {
        REG32(NVIC_ICER(i)) = 0xFFFFFFFFu;
        REG32(NVIC_ICPR(i)) = 0xFFFFFFFFu;
    }
#endif
    caches_disable();
    dsb();
    isb();
    /* AN2606 §4.1: on parts with USB the bootloader does not enable interrupts itself. */
    irq_enable();
    bootloader_jump();
}

/*
 * Charges the BOOT0 capacitor from the charge pin (default PG2, the same as the simulated
 * board's default), releases the pin to its reset state so only the RC holds BOOT0 up, lets
 * it decay for `delay` ms, then resets: BOOT0 is sampled at the reset and, while still above
 * its threshold, starts the ROM bootloader.
 */
void dfu_enter_by_rc(uint32_t delay)
{
    unsigned port = (unsigned)(RC_PORT_CHAR - 'A');
    gpio_drive(port, RC_PIN, 1);
    delay_ms(RC_CHARGE_MS);
    gpio_restore_pin(port, RC_PIN);
    delay_ms(delay);
    system_reset();
}
