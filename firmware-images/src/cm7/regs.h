/*
 * The handful of STM32H745 and Cortex-M7 registers the test application touches.
 *
 * Peripheral addresses and bit positions: STMicroelectronics/cmsis_device_h7,
 * Include/stm32h745xx.h at commit 13ba9da (base addresses near line 2140-2290, register
 * structs FLASH_TypeDef/PWR_TypeDef/RCC_TypeDef/RCC_Core_TypeDef/GPIO_TypeDef/USART_TypeDef,
 * bit definitions cited per line below). They agree with RM0399 rev 4.
 * Core registers: ARMv7-M Architecture Reference Manual, System Control Space (B3.2),
 * SysTick (B3.3), NVIC (B3.4) and the cache maintenance operations (B2.2.7).
 */
#ifndef REGS_H
#define REGS_H

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t *)(uintptr_t)(addr))

/* ---- GPIO: GPIOA_BASE = D3_AHB1PERIPH_BASE (0x58020000), ports A..K 0x400 apart (GPIOK_BASE = +0x2800). */
#define GPIO_PORT_COUNT 11u
#define GPIO_BASE(port) (0x58020000u + (uint32_t)(port) * 0x400u)
#define GPIO_MODER   0x00u
#define GPIO_OTYPER  0x04u
#define GPIO_OSPEEDR 0x08u
#define GPIO_PUPDR   0x0Cu
#define GPIO_IDR     0x10u
#define GPIO_ODR     0x14u
#define GPIO_BSRR    0x18u
#define GPIO_AFRL    0x20u
#define GPIO_AFRH    0x24u

/* ---- RCC: RCC_BASE = D3_AHB1PERIPH_BASE + 0x4400; the CM7's own copies at RCC_C1_BASE = RCC_BASE + 0x130. */
#define RCC_BASE        0x58024400u
#define RCC_CR          (RCC_BASE + 0x00u)
#define RCC_CFGR        (RCC_BASE + 0x10u)
#define RCC_D1CFGR      (RCC_BASE + 0x18u)
#define RCC_D2CFGR      (RCC_BASE + 0x1Cu)
#define RCC_D2CCIP2R    (RCC_BASE + 0x54u)
#define RCC_APB1LRSTR   (RCC_BASE + 0x90u)
#define RCC_C1_BASE     (RCC_BASE + 0x130u)
#define RCC_C1_RSR      (RCC_C1_BASE + 0x00u)
#define RCC_C1_AHB4ENR  (RCC_C1_BASE + 0x10u)
#define RCC_C1_APB1LENR (RCC_C1_BASE + 0x18u)
/* RCC_CR_HSION_Pos 0, HSIRDY_Pos 2, HSIDIV_Pos 3 (2 bits), HSIDIVF_Pos 5 (lines 14891-14908). */
#define RCC_CR_HSION   (1u << 0)
#define RCC_CR_HSIRDY  (1u << 2)
#define RCC_CR_HSIDIV  (3u << 3)
#define RCC_CR_HSIDIVF (1u << 5)
/* RCC_CFGR_SW_Pos 0 and SWS_Pos 3, 3 bits each, 0 = HSI (lines 15051-15065). */
#define RCC_CFGR_SW  (7u << 0)
#define RCC_CFGR_SWS (7u << 3)
/* RCC_D2CCIP2R_USART28SEL_Pos 0, 3 bits: USART2/3/4/5/7/8 kernel clock, 0 = rcc_pclk1 (line 15553). */
#define RCC_D2CCIP2R_USART28SEL (7u << 0)
/* RCC_AHB4ENR_GPIOAEN_Pos 0 .. RCC_AHB4ENR_GPIOKEN_Pos 10 (lines 15908-15938). */
#define RCC_AHB4ENR_GPIO_ALL 0x000007FFu
/* RCC_APB1LENR_USART3EN_Pos 18 (line 16014); RCC_APB1LRSTR_USART3RST_Pos 18 (line 16309). */
#define RCC_APB1L_USART3 (1u << 18)
/* RCC_RSR_*_Pos (lines 16869-16916). */
#define RSR_RMVF      (1u << 16)
#define RSR_BORRSTF   (1u << 21)
#define RSR_PINRSTF   (1u << 22)
#define RSR_PORRSTF   (1u << 23)
#define RSR_SFT1RSTF  (1u << 24)
#define RSR_SFT2RSTF  (1u << 25)
#define RSR_IWDG1RSTF (1u << 26)
#define RSR_IWDG2RSTF (1u << 27)
#define RSR_WWDG1RSTF (1u << 28)
#define RSR_WWDG2RSTF (1u << 29)

/* ---- PWR: PWR_BASE = D3_AHB1PERIPH_BASE + 0x4800. */
#define PWR_BASE 0x58024800u
#define PWR_CSR1 (PWR_BASE + 0x04u)
#define PWR_CR3  (PWR_BASE + 0x0Cu)
/* PWR_CR3_BYPASS_Pos 0, LDOEN_Pos 1, SMPSEN_Pos 2, SMPSEXTHP_Pos 3, SMPSLEVEL_Pos 4 (2 bits) (lines 14672-14686). */
#define PWR_CR3_BYPASS    (1u << 0)
#define PWR_CR3_LDOEN     (1u << 1)
#define PWR_CR3_SMPSEN    (1u << 2)
#define PWR_CR3_SMPSEXTHP (1u << 3)
#define PWR_CR3_SMPSLEVEL (3u << 4)
/* PWR_CSR1_ACTVOSRDY_Pos 13 (line 14623). */
#define PWR_CSR1_ACTVOSRDY (1u << 13)

/* ---- FLASH: FLASH_R_BASE = D1_AHB1PERIPH_BASE + 0x2000 = 0x52002000. */
#define FLASH_R_BASE    0x52002000u
#define FLASH_OPTSR_CUR (FLASH_R_BASE + 0x1Cu)
#define FLASH_BOOT4_CUR (FLASH_R_BASE + 0x48u)
/* FLASH_OPTSR_BCM4_Pos 22 (line 11026); FLASH_BOOT4_BCM4_ADD0 bits 15:0 (line 11089). */
#define FLASH_OPTSR_BCM4 (1u << 22)
/* FLASH_SR1/CCR1 at +0x10/+0x14, bank 2's at +0x110/+0x114 (FLASH_TypeDef); SNECCERR_Pos 25, DBECCERR_Pos 26, and the CCR clear bits at the same positions. */
#define FLASH_SR(bank)  (FLASH_R_BASE + 0x10u + 0x100u * (bank))
#define FLASH_CCR(bank) (FLASH_R_BASE + 0x14u + 0x100u * (bank))
#define FLASH_SR_ECC    ((1u << 25) | (1u << 26))
/* 2 banks of 1 MiB: bank 1 at FLASH_BANK1_BASE 0x08000000, bank 2 at FLASH_BANK2_BASE 0x08100000; ECC covers each 256-bit (32-byte) flash word. */
#define FLASH_BANK_SIZE 0x00100000u
#define FLASH_BANK2_BASE 0x08100000u
#define FLASH_WORD_BYTES 32u

/* ---- USART3: USART3_BASE = D2_APB1PERIPH_BASE (0x40000000) + 0x4800. */
#define USART3_BASE 0x40004800u
#define USART_CR1 (USART3_BASE + 0x00u)
#define USART_BRR (USART3_BASE + 0x0Cu)
#define USART_ISR (USART3_BASE + 0x1Cu)
#define USART_ICR (USART3_BASE + 0x20u)
#define USART_RDR (USART3_BASE + 0x24u)
#define USART_TDR (USART3_BASE + 0x28u)
/* USART_CR1_UE_Pos 0, RE_Pos 2, TE_Pos 3, RXNEIE_RXFNEIE_Pos 5 (lines 21134-21143); USART3_IRQn = 39 (line 111). */
#define USART_CR1_RXNEIE (1u << 5)
#define USART3_IRQN 39u
#define USART_CR1_UE (1u << 0)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
/* USART_ISR_FE_Pos 1, NE_Pos 2, ORE_Pos 3, RXNE_RXFNE_Pos 5, TC_Pos 6, TXE_TXFNF_Pos 7 (lines 21420-21438);
 * the ICR clear bits sit at the same positions (lines 21506-21512). */
#define USART_ISR_FE   (1u << 1)
#define USART_ISR_NE   (1u << 2)
#define USART_ISR_ORE  (1u << 3)
#define USART_ISR_RXNE (1u << 5)
#define USART_ISR_TC   (1u << 6)
#define USART_ISR_TXE  (1u << 7)

/* ---- Cortex-M7 core (ARMv7-M ARM). */
#define SYST_CSR  0xE000E010u
#define SYST_RVR  0xE000E014u
#define SYST_CVR  0xE000E018u
#define SYST_CSR_ENABLE    (1u << 0)
#define SYST_CSR_TICKINT   (1u << 1)
#define SYST_CSR_CLKSOURCE (1u << 2)
#define SYST_CSR_COUNTFLAG (1u << 16)
#define NVIC_ISER(n) (0xE000E100u + 4u * (n))
#define NVIC_ICER(n) (0xE000E180u + 4u * (n))
#define NVIC_ICPR(n) (0xE000E280u + 4u * (n))
/* The H745 has 150 interrupt lines (WAKEUP_PIN_IRQn = 149, line 204): 5 words; 8 covers any sibling part. */
#define NVIC_WORDS 8u
#define SCB_AIRCR   0xE000ED0Cu
#define SCB_AIRCR_VECTKEY      (0x05FAu << 16)
#define SCB_AIRCR_PRIGROUP     (7u << 8)
#define SCB_AIRCR_SYSRESETREQ  (1u << 2)
#define SCB_CCR     0xE000ED14u
#define SCB_CCR_DC  (1u << 16)
#define SCB_CCR_IC  (1u << 17)
#define SCB_CCSIDR  0xE000ED80u
#define SCB_CSSELR  0xE000ED84u
#define SCB_ICIALLU 0xE000EF50u
#define SCB_DCCSW   0xE000EF6Cu
#define SCB_DCCISW  0xE000EF74u

static inline void dsb(void) { __asm volatile("dsb 0xF" ::: "memory"); }
static inline void isb(void) { __asm volatile("isb 0xF" ::: "memory"); }
static inline void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }

#endif
