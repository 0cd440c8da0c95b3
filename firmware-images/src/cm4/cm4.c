/*
 * The Cortex-M4 image for bank 2 (0x08100000, BOOT_CM4_ADD0 = 0x0810 at the factory).
 *
 * With BCM4 set the CM4 starts at every reset together with the CM7, from whatever bank 2
 * holds. This image gives it something harmless to run: interrupts masked, then WFI for
 * ever. It touches no peripheral, no clock and above all not PWR_CR3, whose one write per
 * power-up belongs to the CM7 application; it never takes a lock the CM7 could wait on, and
 * uses no RAM beyond what an exception entry would push. Plain sleep (SLEEPDEEP = 0) keeps
 * the D2 domain, and with it USART3, running for the CM7.
 */
#include <stdint.h>

/* SRAM3's top minus 256 bytes: D2 RAM the CM4 reaches at reset, inside the project's "points into RAM" rule. */
#define CM4_INITIAL_MSP 0x30047F00u

void Reset_Handler(void);

__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile(
        "cpsid i\n"
        "1: wfi\n"
        "   b 1b\n");
}

/* Any fault lands in the same quiet loop. */
__attribute__((naked, noreturn)) static void Default_Handler(void)
{
    __asm volatile(
        "cpsid i\n"
        "1: wfi\n"
        "   b 1b\n");
}

typedef void (*vector_t)(void);

/* The CM4 sees the same 150 interrupt lines as the CM7: 166 entries, 0x298 bytes, below the version block at 0x400. */
__attribute__((section(".isr_vector"), used))
const vector_t vector_table[166] = {
    [0] = (vector_t)CM4_INITIAL_MSP,
    [1] = Reset_Handler,
    [2 ... 165] = Default_Handler,
};
