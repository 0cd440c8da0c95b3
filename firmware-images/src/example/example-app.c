/*
 * An example of a team's own Cortex-M7 application for the NUCLEO-H745ZI-Q, as
 * docs/own-firmware.md walks through it: not the test application, and not its console
 * protocol. It announces itself with its own banner, lights LD1 (PB0) once it runs, answers
 * `version`, and enters the ROM bootloader by its own `update` command. Its way into the ROM
 * is the common STM32 one: a magic word in RAM that survives a system reset, acted on at the
 * top of Reset_Handler before anything is initialised (the same contract as the simulated
 * board's probe entry and DFU_DETACH: harness/sim/app/dfu-magic.ts).
 *
 * Everything is polled; no interrupt is enabled, so the ROM inherits a chip at its reset state.
 */
#include <stdint.h>
#include "regs.h"
#include "version_block.h"

#define BOOTLOADER_BASE   0x1FF09800u /* AN2606 Table 135: the ROM's MSP, then its entry */
#define DFU_MAGIC         0x1FF0980030554644ull
#define SCB_AIRCR         0xE000ED0Cu
#define AIRCR_VECTKEY     (0x05FAu << 16)
#define AIRCR_PRIGROUP    (7u << 8)
#define AIRCR_SYSRESETREQ (1u << 2)
#define GPIOB             1u
#define GPIOD             3u
#define LED_PIN           0u /* LD1, green (UM2408) */
#define CONSOLE_BRR       556u /* 64 MHz HSI at reset / 115200 baud */
#define LINE_MAX          64u

extern uint32_t _estack[];
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];

/* Pinned at 0x2001FFF0 by the linker script, above the stack. */
__attribute__((section(".dfu_magic"))) static volatile uint64_t dfu_magic;

void Reset_Handler(void);
static void Default_Handler(void)
{
    for (;;) {
    }
}

typedef void (*vector_t)(void);
/* The 16 system exceptions; the image enables no interrupt line. */
__attribute__((section(".isr_vector"), used))
const vector_t vector_table[16] = {
    [0] = (vector_t)(uintptr_t)_estack,
    [1] = Reset_Handler,
    [2 ... 15] = Default_Handler,
};


/* One 64-bit store: H7 RAM keeps ECC per 64-bit word, so a 32-bit write may not survive the reset. */
static void magic_write(uint64_t value)
{
    uint32_t lo = (uint32_t)value, hi = (uint32_t)(value >> 32);
    __asm volatile("strd %0, %1, [%2]" :: "r"(lo), "r"(hi), "r"(&dfu_magic) : "memory");
    dsb();
}

static __attribute__((noreturn)) void system_reset(void)
{
    dsb();
    REG32(SCB_AIRCR) = AIRCR_VECTKEY | (REG32(SCB_AIRCR) & AIRCR_PRIGROUP) | AIRCR_SYSRESETREQ;
    dsb();
    for (;;) {
    }
}

static __attribute__((noreturn)) void enter_bootloader(void)
{
    uint32_t sp = REG32(BOOTLOADER_BASE);
    uint32_t pc = REG32(BOOTLOADER_BASE + 4u);
    __asm volatile("msr msp, %0\n\tisb\n\tbx %1" :: "r"(sp), "r"(pc) : "memory");
    __builtin_unreachable();
}

/* Direct SMPS, as the board is wired; the supply bits take one write per power-up (RM0399 PWR_CR3). */
static void power_init(void)
{
    const uint32_t supply = PWR_CR3_SMPSLEVEL | PWR_CR3_SMPSEXTHP | PWR_CR3_SMPSEN | PWR_CR3_LDOEN | PWR_CR3_BYPASS;
    uint32_t cr3 = REG32(PWR_CR3);
    uint32_t wanted = (cr3 & ~supply) | PWR_CR3_SMPSEN;
    if (cr3 != wanted) REG32(PWR_CR3) = wanted;
    while ((REG32(PWR_CSR1) & PWR_CSR1_ACTVOSRDY) == 0) {
    }
}

static void pin_mode(unsigned port, unsigned pin, unsigned mode, unsigned af)
{
    uint32_t base = GPIO_BASE(port);
    if (mode == 2u) {
        uint32_t reg = base + (pin < 8u ? GPIO_AFRL : GPIO_AFRH);
        unsigned shift = (pin % 8u) * 4u;
        REG32(reg) = (REG32(reg) & ~(0xFu << shift)) | (af << shift);
    }
    REG32(base + GPIO_MODER) = (REG32(base + GPIO_MODER) & ~(3u << (pin * 2u))) | (mode << (pin * 2u));
}

static void putc_(char c)
{
    while ((REG32(USART_ISR) & USART_ISR_TXE) == 0) {
    }
    REG32(USART_TDR) = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s != '\0') putc_(*s++);
}

static void identity_line(const char *suffix)
{
    puts_(image_version_block.name);
    putc_(' ');
    puts_(image_version_block.version);
    puts_(suffix);
    puts_("\r\n");
}

static int streq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static __attribute__((noreturn)) void run(void)
{
    power_init();
    REG32(RCC_C1_AHB4ENR) |= (1u << GPIOB) | (1u << GPIOD);
    (void)REG32(RCC_C1_AHB4ENR);
    pin_mode(GPIOD, 8, 2u, 7u); /* USART3_TX: the ST-LINK virtual COM port */
    pin_mode(GPIOD, 9, 2u, 7u); /* USART3_RX */
    REG32(RCC_C1_APB1LENR) |= RCC_APB1L_USART3;
    (void)REG32(RCC_C1_APB1LENR);
    REG32(USART_BRR) = CONSOLE_BRR;
    REG32(USART_CR1) = USART_CR1_TE | USART_CR1_RE | USART_CR1_UE;

    pin_mode(GPIOB, LED_PIN, 1u, 0u);
    REG32(GPIO_BASE(GPIOB) + GPIO_BSRR) = 1u << LED_PIN;
    identity_line(" up");

    char line[LINE_MAX];
    unsigned n = 0;
    for (;;) {
        uint32_t isr = REG32(USART_ISR);
        if ((isr & (USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE)) != 0) REG32(USART_ICR) = USART_ISR_ORE | USART_ISR_FE | USART_ISR_NE;
        if ((isr & USART_ISR_RXNE) == 0) continue;
        char c = (char)(REG32(USART_RDR) & 0xFFu);
        if (c == '\r') continue;
        if (c != '\n') {
            if (n < LINE_MAX - 1u) line[n++] = c;
            continue;
        }
        line[n] = '\0';
        n = 0;
        if (streq(line, "version")) {
            identity_line("");
        } else if (streq(line, "update")) {
            puts_("entering the bootloader\r\n");
            while ((REG32(USART_ISR) & USART_ISR_TC) == 0) {
            }
            magic_write(DFU_MAGIC);
            system_reset();
        } else if (line[0] != '\0') {
            puts_("? ");
            puts_(line);
            puts_("\r\n");
        }
    }
}

void Reset_Handler(void)
{
    uint32_t rsr = REG32(RCC_C1_RSR);
    REG32(RCC_C1_RSR) = RSR_RMVF;
    REG32(RCC_C1_RSR) = 0;
    /* Only a software reset can carry the request: after power-on the RAM holds noise. */
    if ((rsr & RSR_SFT1RSTF) != 0 && dfu_magic == DFU_MAGIC) {
        magic_write(0);
        enter_bootloader();
    }
    magic_write(0);

    uint32_t *src = _sidata;
    for (uint32_t *dst = _sdata; dst < _edata;) *dst++ = *src++;
    for (uint32_t *dst = _sbss; dst < _ebss;) *dst++ = 0;
    run();
}
