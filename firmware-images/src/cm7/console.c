/*
 * The console protocol of docs/console-protocol.md, the single place the firmware speaks it.
 * Replies, usage messages and the handling of odd input follow the simulated application
 * (harness/sim/app/test-application.ts) so a spec reads the same lines from either board.
 */
#include <stdint.h>
#include "hw.h"
#include "regs.h"
#include "version_block.h"

#define LINE_MAX 256u

static const char *const reg_names[GPIO_REG_COUNT] = {"MODER", "OTYPER", "OSPEEDR", "PUPDR", "ODR", "AFRL", "AFRH"};

static void put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789ABCDEF";
    console_puts("0x");
    for (int shift = 28; shift >= 0; shift -= 4) console_putc(digits[(v >> shift) & 0xFu]);
}

static void put_dec(uint32_t v)
{
    char buf[10];
    unsigned n = 0;
    do {
        buf[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (n > 0) console_putc(buf[--n]);
}

static void put_line(const char *s)
{
    console_puts(s);
    console_puts("\r\n");
}

/* `<tag> <port> MODER=0x… … AFRH=0x…` */
static void put_gpio_line(const char *tag, unsigned port, const uint32_t regs[GPIO_REG_COUNT])
{
    console_puts(tag);
    console_putc(' ');
    console_putc((char)('A' + port));
    for (unsigned r = 0; r < GPIO_REG_COUNT; r++) {
        console_putc(' ');
        console_puts(reg_names[r]);
        console_putc('=');
        put_hex32(regs[r]);
    }
    console_puts("\r\n");
}

static void put_identity(const char *tag)
{
    console_puts(tag);
    console_putc(' ');
    console_puts(image_version_block.name);
    console_putc(' ');
    console_puts(image_version_block.version);
    console_puts("\r\n");
}

/* The same precedence as the simulator's resetCauseFromRsr: watchdog, software, power-on, pin. */
static const char *reset_cause(uint32_t rsr)
{
    if ((rsr & (RSR_IWDG1RSTF | RSR_IWDG2RSTF | RSR_WWDG1RSTF | RSR_WWDG2RSTF)) != 0) return "watchdog";
    if ((rsr & (RSR_SFT1RSTF | RSR_SFT2RSTF)) != 0) return "software";
    if ((rsr & (RSR_PORRSTF | RSR_BORRSTF)) != 0) return "power-on";
    if ((rsr & RSR_PINRSTF) != 0) return "pin";
    return "none";
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int str_eq(const char *a, const char *b)
{
    while (*a != '\0' && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* Splits the line in place into at most `max` words; returns how many there were (possibly more than `max`). */
static unsigned split_words(char *line, char *words[], unsigned max)
{
    unsigned n = 0;
    char *p = line;
    for (;;) {
        while (is_space(*p)) p++;
        if (*p == '\0') return n;
        if (n < max) words[n] = p;
        n++;
        while (*p != '\0' && !is_space(*p)) p++;
        if (*p == '\0') return n;
        *p++ = '\0';
    }
}

/* `P<port><pin>`, port A..K and pin 0..15, either case for the letters (as the simulator's parsePinName). */
static int parse_pin(const char *s, unsigned *port, unsigned *pin)
{
    if (s[0] != 'P' && s[0] != 'p') return 0;
    char letter = s[1];
    if (letter >= 'a' && letter <= 'k') letter = (char)(letter - 'a' + 'A');
    if (letter < 'A' || letter > 'K') return 0;
    if (s[2] < '0' || s[2] > '9') return 0;
    unsigned value = (unsigned)(s[2] - '0');
    if (s[3] != '\0') {
        if (s[3] < '0' || s[3] > '9' || s[4] != '\0') return 0;
        value = value * 10u + (unsigned)(s[3] - '0');
    }
    if (value > 15u) return 0;
    *port = (unsigned)(letter - 'A');
    *pin = value;
    return 1;
}

/* Decimal digits only, no sign, at most 0xFFFFFFFF. */
static int parse_u32(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    if (*s == '\0') return 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') return 0;
        uint32_t digit = (uint32_t)(*s - '0');
        if (v > (0xFFFFFFFFu - digit) / 10u) return 0;
        v = v * 10u + digit;
    }
    *out = v;
    return 1;
}

static void cmd_boot(void)
{
    uint32_t rsr = boot_capture.rsr;
    console_puts("BOOT cause=");
    console_puts(reset_cause(rsr));
    console_puts(rsr == 0 ? " entry=jump" : " entry=reset");
    console_puts(" rsr=");
    put_hex32(rsr);
    console_puts(" cm4=");
    console_puts(cm4_state());
    console_puts(" ecc=");
    put_dec(flash_ecc_errors());
    console_puts("\r\n");
    for (unsigned port = 0; port < GPIO_PORT_COUNT; port++) put_gpio_line("PRE", port, boot_capture.gpio[port]);
    put_line("OK");
}

static void cmd_gpio(void)
{
    uint32_t regs[GPIO_REG_COUNT];
    for (unsigned port = 0; port < GPIO_PORT_COUNT; port++) {
        gpio_read_registers(port, regs);
        put_gpio_line("GPIO", port, regs);
    }
    put_line("OK");
}

/* Replies OK and waits until its last bit has left USART3, so the host sees it before the core goes away. */
static void ok_then_flush(void)
{
    put_line("OK");
    console_flush();
}

static void cmd_dfu(char *args[], unsigned count)
{
    if (count == 1 && str_eq(args[0], "jump")) {
        ok_then_flush();
        dfu_enter_by_reset();
    }
    if (count == 1 && str_eq(args[0], "direct")) {
        ok_then_flush();
        dfu_enter_direct();
    }
    if (count >= 1 && count <= 2 && str_eq(args[0], "rc")) {
        uint32_t delay = 0;
        if (count == 2 && !parse_u32(args[1], &delay)) {
            put_line("ERR usage: dfu rc [delay_ms]");
            return;
        }
        ok_then_flush();
        dfu_enter_by_rc(delay);
    }
    put_line("ERR usage: dfu jump|direct|rc [delay_ms]");
}

static void execute(char *line)
{
    char *words[4];
    unsigned count = split_words(line, words, 4);
    if (count == 0) return;
    unsigned args = count - 1u;
    const char *verb = words[0];

    if (str_eq(verb, "version")) {
        put_identity("VERSION");
        put_line("OK");
    } else if (str_eq(verb, "boot")) {
        cmd_boot();
    } else if (str_eq(verb, "gpio")) {
        cmd_gpio();
    } else if (str_eq(verb, "pin")) {
        unsigned port, pin;
        if (args != 2 || !parse_pin(words[1], &port, &pin) || !(str_eq(words[2], "0") || str_eq(words[2], "1"))) {
            put_line("ERR usage: pin <Pxn> <0|1>");
            return;
        }
        gpio_drive(port, pin, words[2][0] == '1');
        put_line("OK");
    } else if (str_eq(verb, "reset")) {
        if (args != 0) {
            put_line("ERR usage: reset");
            return;
        }
        ok_then_flush();
        system_reset();
    } else if (str_eq(verb, "dfu")) {
        cmd_dfu(&words[1], args > 3u ? 3u : args);
    } else {
        console_puts("ERR unknown command ");
        put_line(verb);
    }
}

void app_main(void)
{
    static char line[LINE_MAX + 1u];
    unsigned length = 0;

    power_init();
    clock_init();
    console_init();
    put_identity("READY");

    for (;;) {
        int c = console_getc();
        if (c < 0) continue;
        if (c == '\n') {
            line[length] = '\0';
            execute(line);
            length = 0;
        } else if (length < LINE_MAX) {
            /* Longer lines are cut, as the simulated application does. */
            line[length++] = (char)c;
        }
    }
}
