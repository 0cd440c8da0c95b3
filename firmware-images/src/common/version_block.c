/*
 * The image's identity, fixed at build time by -DIMAGE_NAME, -DIMAGE_VERSION and -DIMAGE_CORE
 * (the Makefile builds versions A and B of the same sources this way, so a flash that took
 * effect is visible in the READY line).
 */
#include "version_block.h"

#ifndef IMAGE_NAME
#error "IMAGE_NAME must be given, e.g. -DIMAGE_NAME='\"dfu-hil-testapp\"'"
#endif
#ifndef IMAGE_VERSION
#error "IMAGE_VERSION must be given, e.g. -DIMAGE_VERSION='\"1.0.0\"'"
#endif
#ifndef IMAGE_CORE
#error "IMAGE_CORE must be 7 or 4"
#endif

/* One byte of each field stays NUL so C code can print it as a string; the host checks the same. */
_Static_assert(sizeof(IMAGE_NAME) <= 24, "IMAGE_NAME has at most 23 characters");
_Static_assert(sizeof(IMAGE_VERSION) <= 16, "IMAGE_VERSION has at most 15 characters");
_Static_assert(IMAGE_CORE == 7 || IMAGE_CORE == 4, "IMAGE_CORE must be 7 or 4");

__attribute__((section(".version_block"), used))
const struct version_block image_version_block = {
    .magic = VERSION_BLOCK_MAGIC,
    .format = VERSION_BLOCK_FORMAT,
    .core = IMAGE_CORE,
    .reserved = 0,
    .name = IMAGE_NAME,
    .version = IMAGE_VERSION,
};
