/*
 * The 48-byte block every image carries at offset 0x400 (docs/image-version-block.md). The
 * console's READY/VERSION lines, the host's image tools and the simulated board all read
 * these bytes, so the layout here must stay byte-for-byte that document's table.
 */
#ifndef VERSION_BLOCK_H
#define VERSION_BLOCK_H

#include <stdint.h>

#define VERSION_BLOCK_MAGIC  0x4C494844u /* "DHIL" read as a little-endian word */
#define VERSION_BLOCK_FORMAT 1u

struct version_block {
    uint32_t magic;
    uint8_t format;
    uint8_t core;
    uint16_t reserved;
    char name[24];
    char version[16];
};

_Static_assert(sizeof(struct version_block) == 48, "the version block is 48 bytes");

/* Defined once per image; the linker script places its section at image offset 0x400. */
extern const struct version_block image_version_block;

#endif
