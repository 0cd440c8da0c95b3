/*
 * dfu-hil usbfs seek shim: loaded after umockdev's preload library into programs that
 * `dfu-hil sim expose` runs.
 *
 * A real usbfs device node is a file: reading it from offset 0 gives the device's descriptors.
 * libusb relies on that when a program hands it an already-open node
 * (libusb_wrap_sys_device, which fwupd uses): it seeks the node back to 0, then reads. Under
 * umockdev the node is a unix socket to the ioctl handler, and seeking a socket fails with
 * ESPIPE, so libusb gives up with LIBUSB_ERROR_IO before it ever reads. Reads themselves are
 * forwarded to the bridge by umockdev (its read emulation), which answers them from the
 * device's descriptors. This shim only makes the seek succeed, and only on sockets that lead
 * to an emulated USB device node of the testbed in UMOCKDEV_DIR; every other lseek is the C
 * library's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

static int is_emulated_usb_node(int fd)
{
    const char *root = getenv("UMOCKDEV_DIR");
    struct stat st;
    if (!root || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 0;
    struct sockaddr_un peer;
    socklen_t length = sizeof peer;
    memset(&peer, 0, sizeof peer);
    if (getpeername(fd, (struct sockaddr *)&peer, &length) != 0 || peer.sun_family != AF_UNIX)
        return 0;
    size_t root_length = strlen(root);
    const char *path = peer.sun_path;
    return strncmp(path, root, root_length) == 0 && strncmp(path + root_length, "/ioctl/dev/bus/usb/", 19) == 0;
}

/* The device node stays at offset 0 as far as libusb can tell; the bridge counts what each reader has read. */
static off_t seek(const char *name, int fd, off_t offset, int whence)
{
    off_t (*real)(int, off_t, int) = (off_t(*)(int, off_t, int))dlsym(RTLD_NEXT, name);
    int saved = errno;
    off_t result = real ? real(fd, offset, whence) : -1;
    if (result < 0 && errno == ESPIPE && whence == SEEK_SET && offset == 0 && is_emulated_usb_node(fd)) {
        errno = saved;
        return 0;
    }
    return result;
}

off_t lseek(int fd, off_t offset, int whence)
{
    return seek("lseek", fd, offset, whence);
}

off_t lseek64(int fd, off_t offset, int whence)
{
    return seek("lseek64", fd, offset, whence);
}
