/* What the console needs from the chip: the boot-time capture, the console UART, GPIO, delays and the ways into the bootloader. */
#ifndef HW_H
#define HW_H

#include <stdint.h>

/* The registers `boot` reports as PRE lines, in console order. */
enum { GPIO_REG_MODER, GPIO_REG_OTYPER, GPIO_REG_OSPEEDR, GPIO_REG_PUPDR, GPIO_REG_ODR, GPIO_REG_AFRL, GPIO_REG_AFRH, GPIO_REG_COUNT };

/* Taken by Reset_Handler before any initialisation; lives in .noinit so the .bss clear that follows keeps it. */
struct boot_capture {
    uint32_t rsr;
    uint32_t gpio[11][GPIO_REG_COUNT];
};
extern struct boot_capture boot_capture;

/*
 * `dfu jump`'s request, shared with the simulated board (harness/sim/app/dfu-magic.ts): the
 * last 16 bytes of DTCM, above the stack (initial MSP 0x2001FF00) and outside the 16 KB at
 * 0x20000000 the ROM bootloader uses (AN2606 Table 135). High word: the bootloader entry;
 * low word "DFU0" in ASCII. The linker script pins the .dfu_magic section to this address.
 */
#define DFU_MAGIC_ADDRESS 0x2001FFF0u
#define DFU_MAGIC         0x1FF0980030554644ull
/*
 * AN2606 Table 135: "The bootloader start address is 0x1FF09800" (its MSP, then its reset vector).
 * The wrong-branch mutant (Makefile) builds with 0x1FFF0000, the STM32F4's system memory, the
 * mistake reported most for H7 ports (docs/stm32h7-facts.md §5).
 */
#ifndef BOOTLOADER_BASE
#define BOOTLOADER_BASE   0x1FF09800u
#endif

uint64_t dfu_magic_read(void);
void dfu_magic_write(uint64_t value);
__attribute__((noreturn)) void bootloader_jump(void);

void power_init(void);
void clock_init(void);
void console_init(void);
void console_putc(char c);
void console_puts(const char *s);
void console_flush(void);
/* A received byte, or -1 when none is waiting. */
int console_getc(void);

void gpio_read_registers(unsigned port, uint32_t out[GPIO_REG_COUNT]);
void gpio_drive(unsigned port, unsigned pin, unsigned level);
void gpio_restore_pin(unsigned port, unsigned pin);

void delay_ms(uint32_t ms);
const char *cm4_state(void);
uint32_t flash_ecc_errors(void);
/* SysTick's exception: counts milliseconds in the SysTick mutant (a HAL-style tick); unused otherwise. */
void SysTick_Handler(void);

__attribute__((noreturn)) void system_reset(void);
__attribute__((noreturn)) void dfu_enter_by_reset(void);
__attribute__((noreturn)) void dfu_enter_direct(void);
__attribute__((noreturn)) void dfu_enter_by_rc(uint32_t delay_ms);

void app_main(void) __attribute__((noreturn));

#endif
