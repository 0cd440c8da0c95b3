/*
 * Cortex-M7 vector table and Reset_Handler.
 *
 * Reset_Handler runs with nothing initialised: .data is not copied and .bss is not cleared
 * until the capture is done, so everything it writes before that lives in .noinit or at the
 * fixed magic address. Order matters:
 *   1. RCC_C1_RSR is read and cleared: the reset cause is only meaningful if every boot clears it.
 *   2. The `dfu jump` request is honoured before any clock is enabled, so the ROM bootloader
 *      starts from a chip that is as close to its reset state as a reset can leave it.
 *   3. GPIO clocks are enabled (port registers read as 0 while their clock is off, RM0399
 *      RCC_AHB4ENR) and every port's registers are captured, before anything configures a pin.
 */
#include <stdint.h>
#include "regs.h"
#include "hw.h"

extern uint32_t _estack[];
extern uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[];

__attribute__((section(".noinit"))) struct boot_capture boot_capture;

void Reset_Handler(void);

/* Faults and stray interrupts stop here so a probe finds the core where it went wrong. */
static void Default_Handler(void)
{
    for (;;) {
    }
}

typedef void (*vector_t)(void);

/* 16 system exceptions + 150 interrupt lines = 0x298 bytes (docs/image-version-block.md). */
#define VECTOR_COUNT 166u

#ifdef BROKEN_VECTOR_TABLE
/* The negative-spec image: erased-flash words where the initial MSP and reset vector belong, so no reset or leave may run it. */
#define INITIAL_MSP   ((vector_t)0xFFFFFFFFu)
#define RESET_VECTOR  ((vector_t)0xFFFFFFFFu)
#else
#define INITIAL_MSP   ((vector_t)(uintptr_t)_estack)
#define RESET_VECTOR  Reset_Handler
#endif

__attribute__((section(".isr_vector"), used))
const vector_t vector_table[VECTOR_COUNT] = {
    [0] = INITIAL_MSP,
    [1] = RESET_VECTOR,
    [2 ... 14] = Default_Handler,
    /* Only the SysTick mutant enables its interrupt; its handler counts milliseconds there and does nothing here. */
    [15] = SysTick_Handler,
    [16 ... VECTOR_COUNT - 1] = Default_Handler,
};

_Static_assert(sizeof(vector_table) == 0x298, "the H745 CM7 vector table is 0x298 bytes");

void Reset_Handler(void)
{
    uint32_t rsr = REG32(RCC_C1_RSR);
    /* RMVF is "set and reset by software" (RM0399 RCC_RSR): set to clear the flags, then released so later resets record theirs. */
    REG32(RCC_C1_RSR) = RSR_RMVF;
    REG32(RCC_C1_RSR) = 0;
    boot_capture.rsr = rsr;

    /*
     * The magic is trusted only after a software reset: after a power-on the RAM is random and
     * (with ECC) may not even read cleanly, and a pin or watchdog reset was not asked for by
     * `dfu jump`. The flag is tested first so the word is never read in those cases.
     */
#ifdef MUTANT_MAGIC_INVERTED
    /* The mutant's check is inverted: it jumps after any software reset but the one `dfu jump` asks for. */
    if ((rsr & RSR_SFT1RSTF) != 0 && dfu_magic_read() != DFU_MAGIC) {
#else
    if ((rsr & RSR_SFT1RSTF) != 0 && dfu_magic_read() == DFU_MAGIC) {
#endif
        dfu_magic_write(0);
        bootloader_jump();
    }
    /* Writing the whole 64-bit word on every boot also gives it valid ECC for the next read. */
    dfu_magic_write(0);

    REG32(RCC_C1_AHB4ENR) |= RCC_AHB4ENR_GPIO_ALL;
    /* A read back makes sure the enable has reached the bus before the first port access (RM0399 RCC "clock enable delay"). */
    (void)REG32(RCC_C1_AHB4ENR);
    for (unsigned port = 0; port < GPIO_PORT_COUNT; port++) gpio_read_registers(port, boot_capture.gpio[port]);

    uint32_t *src = _sidata;
    for (uint32_t *dst = _sdata; dst < _edata;) *dst++ = *src++;
    for (uint32_t *dst = _sbss; dst < _ebss;) *dst++ = 0;

    app_main();
}
