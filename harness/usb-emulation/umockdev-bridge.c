/*
 * dfu-hil umockdev bridge: presents simulated USB devices to unmodified libusb programs.
 *
 * The Node process that owns a simulated board starts this program under umockdev's preload
 * library. It owns the umockdev testbed (an emulated sysfs, udev and /dev/bus/usb) and answers
 * the usbdevfs ioctls that libusb issues on the emulated device nodes. Control transfers are
 * not answered here: each one is forwarded to the Node process, whose simulated device decides
 * the reply. So dfu-util, or node `usb`, talks to the very state machine the harness's own
 * specs exercise.
 *
 * Wire format on stdin/stdout (little endian): u32 length of what follows, u8 type, payload.
 *   Node -> bridge
 *     0x01 ADD     u32 id, u8 busnum, u8 devnum, u16 speed (Mb/s), u8 port, descriptors...
 *     0x02 REMOVE  u32 id
 *     0x03 REPLY   u32 tag, i32 status (0 or -errno, as in urb->status), IN data...
 *     0x04 QUIT
 *   bridge -> Node
 *     0x81 READY   testbed root directory (UMOCKDEV_DIR)
 *     0x82 ADDED   u32 id
 *     0x83 REMOVED u32 id
 *     0x84 CONTROL u32 tag, u32 id, 8 setup bytes, OUT data...
 *     0x85 RESET   u32 id
 *     0x86 FAILED  u32 id, message (an ADD that could not be done)
 *
 * Threads: the main thread reads commands and changes the testbed; umockdev's own thread runs
 * the ioctl handlers. They share the device list under one mutex; a condition variable wakes a
 * handler that waits for a reply to reap.
 */
#include <errno.h>
#include <glib.h>
#include <linux/usbdevice_fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <umockdev.h>
#include <unistd.h>

enum { CMD_ADD = 0x01, CMD_REMOVE = 0x02, CMD_REPLY = 0x03, CMD_QUIT = 0x04 };
enum { EV_READY = 0x81, EV_ADDED = 0x82, EV_REMOVED = 0x83, EV_CONTROL = 0x84, EV_RESET = 0x85, EV_FAILED = 0x86 };

/* An empty reap waits up to this long before answering EAGAIN, when a transfer is in flight or
 * after a run of empty reaps. The emulated device node always polls writable, so libusb's event
 * loop would otherwise spin on EAGAIN while it holds the device open. A reply or a new submit
 * ends the wait at once. */
#define REAP_WAIT_NS (2 * 1000 * 1000)
/* libusb reaps until EAGAIN after every completion: those reaps must not wait. */
#define IDLE_REAPS_BEFORE_WAITING 8

typedef struct Transfer Transfer;
struct Transfer {
    Transfer *next;
    uint32_t tag;
    /* A URB (SUBMITURB, reaped later) or a synchronous request (SETINTERFACE, completed on reply). */
    UMockdevIoctlData *urb;
    UMockdevIoctlData *buffer;
    UMockdevIoctlClient *waiter;
    /* USBDEVFS_CONTROL: the caller's struct and data buffer, filled in when the reply comes. */
    UMockdevIoctlData *ctrl;
    UMockdevIoctlData *ctrl_data;
    GSource *timeout;
    int in;
    int length; /* wLength */
    int done;
    int discarded;
    int status;
    uint8_t *reply;
    size_t reply_length;
};

typedef struct Device Device;
struct Device {
    Device *next;
    uint32_t id;
    int busnum;
    int devnum;
    int speed_mbps;
    int gone;
    char syspath[96];
    char devnode[64];
    UMockdevIoctlBase *handler;
    /* What reading the device node gives, as on usbfs: the device descriptor, then every configuration. */
    uint8_t *descriptors;
    size_t descriptors_length;
    Transfer *transfers;
    int idle_reaps;
};

static UMockdevTestbed *testbed;
static Device *devices;
static uint32_t next_tag = 1;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t replied = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
/* The frames go out on a copy of stdout; stdout itself is pointed at stderr, because GLib prints
 * its debug messages there and they must never land in the middle of a frame. */
static int events_fd = -1;

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0)
            return -1;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Sends one frame: a header, then up to two payload parts (a fixed part and data). */
static void send_frame(uint8_t type, const uint8_t *head, size_t head_len, const uint8_t *data, size_t data_len)
{
    uint8_t prefix[5];
    put_u32(prefix, (uint32_t)(1 + head_len + data_len));
    prefix[4] = type;
    pthread_mutex_lock(&out_lock);
    /* A failed write means Node has gone; stdin then reaches EOF and the main loop cleans up. */
    if (write_all(events_fd, prefix, sizeof prefix) == 0 && write_all(events_fd, head, head_len) == 0 && data_len > 0)
        write_all(events_fd, data, data_len);
    pthread_mutex_unlock(&out_lock);
}

static void send_id_event(uint8_t type, uint32_t id)
{
    uint8_t head[4];
    put_u32(head, id);
    send_frame(type, head, sizeof head, NULL, 0);
}

static void send_failed(uint32_t id, const char *message)
{
    uint8_t head[4];
    put_u32(head, id);
    send_frame(EV_FAILED, head, sizeof head, (const uint8_t *)message, strlen(message));
}

static void transfer_free(Transfer *t)
{
    if (t->urb)
        g_object_unref(t->urb);
    if (t->buffer)
        g_object_unref(t->buffer);
    if (t->waiter)
        g_object_unref(t->waiter);
    if (t->ctrl_data)
        g_object_unref(t->ctrl_data);
    if (t->ctrl)
        g_object_unref(t->ctrl);
    if (t->timeout) {
        g_source_destroy(t->timeout);
        g_source_unref(t->timeout);
    }
    g_free(t->reply);
    g_free(t);
}

/* Queues a transfer on `dev` and forwards its setup packet (and OUT data) to Node. Locked by caller. */
static void forward_control(Device *dev, Transfer *t, const uint8_t *setup, const uint8_t *out, size_t out_len)
{
    uint8_t head[16];
    t->tag = next_tag++;
    t->in = (setup[0] & 0x80) != 0;
    t->length = setup[6] | setup[7] << 8;
    Transfer **tail = &dev->transfers;
    while (*tail)
        tail = &(*tail)->next;
    *tail = t;
    put_u32(head, t->tag);
    put_u32(head + 4, dev->id);
    memcpy(head + 8, setup, 8);
    send_frame(EV_CONTROL, head, sizeof head, out, out_len);
}

static void complete(UMockdevIoctlClient *client, long result, int error)
{
    umockdev_ioctl_client_complete(client, result, error);
}

/* Resolves `size` bytes at `offset` of the caller's ioctl data; if it cannot, the ioctl fails with EFAULT and NULL is returned. */
static UMockdevIoctlData *resolve_or_fault(UMockdevIoctlClient *client, UMockdevIoctlData *data, gsize offset, gsize size)
{
    GError *error = NULL;
    UMockdevIoctlData *resolved = umockdev_ioctl_data_resolve(data, offset, size, &error);
    if (!resolved) {
        g_clear_error(&error);
        complete(client, -1, EFAULT);
    }
    return resolved;
}

/* Completes a synchronous request (SETINTERFACE, SETCONFIGURATION, CONTROL) with the device's answer. Locked by caller. */
static void finish_waiter(Transfer *t, int status, const uint8_t *data, size_t length)
{
    if (status != 0) {
        complete(t->waiter, -1, -status);
        return;
    }
    if (!t->ctrl) {
        complete(t->waiter, 0, 0);
        return;
    }
    size_t n = (size_t)t->length;
    if (t->in) {
        n = length < n ? length : n;
        if (n > 0 && t->ctrl_data)
            memcpy(t->ctrl_data->data, data, n);
    }
    complete(t->waiter, (long)n, 0);
}

/* SETINTERFACE and SETCONFIGURATION reach the device as standard requests, as the kernel sends them. */
static gboolean forward_standard_request(Device *dev, UMockdevIoctlClient *client, uint8_t type, uint8_t request, uint16_t value, uint16_t index)
{
    uint8_t setup[8] = { type, request, value & 0xff, value >> 8, index & 0xff, index >> 8, 0, 0 };
    Transfer *t = g_new0(Transfer, 1);
    t->waiter = g_object_ref(client);
    pthread_mutex_lock(&state_lock);
    forward_control(dev, t, setup, NULL, 0);
    pthread_mutex_unlock(&state_lock);
    return TRUE;
}

/* USBDEVFS_CONTROL's timeout: the caller gets ETIMEDOUT and a late answer finds nobody waiting. */
static gboolean control_timed_out(gpointer data)
{
    uint32_t tag = GPOINTER_TO_UINT(data);
    pthread_mutex_lock(&state_lock);
    for (Device *dev = devices; dev; dev = dev->next) {
        for (Transfer **link = &dev->transfers; *link; link = &(*link)->next) {
            Transfer *t = *link;
            if (t->tag != tag || !t->waiter)
                continue;
            *link = t->next;
            complete(t->waiter, -1, ETIMEDOUT);
            /* This source is being dispatched: do not destroy it from under itself. */
            g_source_unref(t->timeout);
            t->timeout = NULL;
            transfer_free(t);
            pthread_mutex_unlock(&state_lock);
            return G_SOURCE_REMOVE;
        }
    }
    pthread_mutex_unlock(&state_lock);
    return G_SOURCE_REMOVE;
}

/* USBDEVFS_CONTROL: a synchronous control transfer (libusb uses it on devices a program opened itself). */
static gboolean control_request(Device *dev, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    UMockdevIoctlData *ctrl = resolve_or_fault(client, arg, 0, sizeof(struct usbdevfs_ctrltransfer));
    if (!ctrl)
        return TRUE;
    struct usbdevfs_ctrltransfer c = *(struct usbdevfs_ctrltransfer *)ctrl->data;
    UMockdevIoctlData *data = NULL;
    if (c.wLength > 0) {
        data = resolve_or_fault(client, ctrl, G_STRUCT_OFFSET(struct usbdevfs_ctrltransfer, data), c.wLength);
        if (!data) {
            g_object_unref(ctrl);
            return TRUE;
        }
    }
    uint8_t setup[8] = { c.bRequestType, c.bRequest, c.wValue & 0xff, c.wValue >> 8, c.wIndex & 0xff, c.wIndex >> 8, c.wLength & 0xff, c.wLength >> 8 };
    int in = (c.bRequestType & 0x80) != 0;
    Transfer *t = g_new0(Transfer, 1);
    t->waiter = g_object_ref(client);
    t->ctrl = ctrl;
    t->ctrl_data = data;
    pthread_mutex_lock(&state_lock);
    forward_control(dev, t, setup, in || !data ? NULL : data->data, in || !data ? 0 : c.wLength);
    if (c.timeout > 0) {
        /* The handler runs with umockdev's worker context as the thread default. */
        t->timeout = g_timeout_source_new(c.timeout);
        g_source_set_callback(t->timeout, control_timed_out, GUINT_TO_POINTER(t->tag), NULL);
        g_source_attach(t->timeout, g_main_context_get_thread_default());
    }
    pthread_mutex_unlock(&state_lock);
    return TRUE;
}

static gboolean submit_urb(Device *dev, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    UMockdevIoctlData *urb = resolve_or_fault(client, arg, 0, sizeof(struct usbdevfs_urb));
    if (!urb)
        return TRUE;
    struct usbdevfs_urb *u = (struct usbdevfs_urb *)urb->data;
    /* The simulated devices have only the default control endpoint. */
    if (u->type != USBDEVFS_URB_TYPE_CONTROL || u->endpoint != 0 || u->buffer_length < 8) {
        g_object_unref(urb);
        complete(client, -1, u->type != USBDEVFS_URB_TYPE_CONTROL ? ENOENT : EINVAL);
        return TRUE;
    }
    UMockdevIoctlData *buffer = resolve_or_fault(client, urb, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer), (gsize)u->buffer_length);
    if (!buffer) {
        g_object_unref(urb);
        return TRUE;
    }
    const uint8_t *setup = buffer->data;
    size_t length = (size_t)(setup[6] | setup[7] << 8);
    if (length > (size_t)u->buffer_length - 8) {
        g_object_unref(buffer);
        g_object_unref(urb);
        complete(client, -1, EINVAL);
        return TRUE;
    }
    Transfer *t = g_new0(Transfer, 1);
    t->urb = urb;
    t->buffer = buffer;
    pthread_mutex_lock(&state_lock);
    int in = (setup[0] & 0x80) != 0;
    forward_control(dev, t, setup, in ? NULL : setup + 8, in ? 0 : length);
    dev->idle_reaps = 0;
    pthread_mutex_unlock(&state_lock);
    complete(client, 0, 0);
    return TRUE;
}

static Transfer *take_finished(Device *dev)
{
    for (Transfer **link = &dev->transfers; *link; link = &(*link)->next) {
        Transfer *t = *link;
        if (t->urb && (t->done || t->discarded)) {
            *link = t->next;
            return t;
        }
    }
    return NULL;
}

static int has_urb_in_flight(Device *dev)
{
    for (Transfer *t = dev->transfers; t; t = t->next)
        if (t->urb && !t->done && !t->discarded)
            return 1;
    return 0;
}

static gboolean reap_urb(Device *dev, UMockdevIoctlClient *client, UMockdevIoctlData *arg, int block)
{
    Transfer *t;
    pthread_mutex_lock(&state_lock);
    for (int waited = 0;; waited = 1) {
        t = take_finished(dev);
        if (t || dev->gone || (waited && !block))
            break;
        if (!block && !has_urb_in_flight(dev) && ++dev->idle_reaps <= IDLE_REAPS_BEFORE_WAITING)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += REAP_WAIT_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&replied, &state_lock, &until);
    }
    int gone = dev->gone;
    if (t)
        dev->idle_reaps = 0;
    pthread_mutex_unlock(&state_lock);
    if (!t) {
        complete(client, -1, gone ? ENODEV : EAGAIN);
        return TRUE;
    }
    struct usbdevfs_urb *u = (struct usbdevfs_urb *)t->urb->data;
    if (t->discarded) {
        u->status = -ENOENT;
        u->actual_length = 0;
    } else if (t->status != 0) {
        u->status = t->status;
        u->actual_length = 0;
    } else if (t->in) {
        size_t n = t->reply_length < (size_t)t->length ? t->reply_length : (size_t)t->length;
        memcpy(t->buffer->data + 8, t->reply, n);
        u->status = 0;
        u->actual_length = (int)n;
    } else {
        u->status = 0;
        u->actual_length = t->length;
    }
    UMockdevIoctlData *slot = resolve_or_fault(client, arg, 0, sizeof(gpointer));
    if (!slot) {
        transfer_free(t);
        return TRUE;
    }
    umockdev_ioctl_data_set_ptr(slot, 0, t->urb);
    complete(client, 0, 0);
    g_object_unref(slot);
    transfer_free(t);
    return TRUE;
}

static gboolean discard_urb(Device *dev, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    gulong address = *(gulong *)arg->data;
    int found = 0;
    pthread_mutex_lock(&state_lock);
    for (Transfer *t = dev->transfers; t; t = t->next) {
        if (t->urb && t->urb->client_addr == address && !t->done && !t->discarded) {
            t->discarded = 1;
            found = 1;
            break;
        }
    }
    pthread_cond_broadcast(&replied);
    pthread_mutex_unlock(&state_lock);
    complete(client, found ? 0 : -1, found ? 0 : EINVAL);
    return TRUE;
}

static gboolean handle_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user_data)
{
    (void)handler;
    Device *dev = user_data;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);

    pthread_mutex_lock(&state_lock);
    int gone = dev->gone;
    pthread_mutex_unlock(&state_lock);
    /* After a disconnect, transfers that were in flight can still be reaped (they failed with
     * ESHUTDOWN), as USBDEVFS_CAP_REAP_AFTER_DISCONNECT promises; libusb learns of the disconnect
     * from them, because an emulated device node never raises POLLERR. Everything else fails. */
    if (gone && request != USBDEVFS_REAPURBNDELAY && request != USBDEVFS_REAPURB && request != USBDEVFS_DISCARDURB) {
        complete(client, -1, ENODEV);
        return TRUE;
    }

    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData *caps = resolve_or_fault(client, arg, 0, sizeof(guint32));
        if (!caps)
            return TRUE;
        *(guint32 *)caps->data = USBDEVFS_CAP_NO_PACKET_SIZE_LIM | USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
        complete(client, 0, 0);
        g_object_unref(caps);
        return TRUE;
    }
    case USBDEVFS_CONNECTINFO: {
        /* fwupd asks who the device is before it claims anything: its address, and whether it is low speed. */
        UMockdevIoctlData *info = resolve_or_fault(client, arg, 0, sizeof(struct usbdevfs_connectinfo));
        if (!info)
            return TRUE;
        struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)info->data;
        ci->devnum = (unsigned int)dev->devnum;
        ci->slow = 0;
        complete(client, 0, 0);
        g_object_unref(info);
        return TRUE;
    }
    case USBDEVFS_GET_SPEED:
        /* The answer is the ioctl's result: enum usb_device_speed (linux/usb/ch9.h). */
        complete(client, dev->speed_mbps >= 5000 ? 5 : dev->speed_mbps >= 480 ? 3 : dev->speed_mbps >= 12 ? 2 : 1, 0);
        return TRUE;
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_RELEASEINTERFACE:
    case USBDEVFS_DISCONNECT_CLAIM:
    case USBDEVFS_CLEAR_HALT:
    case USBDEVFS_RESETEP:
        complete(client, 0, 0);
        return TRUE;
    case USBDEVFS_RESET:
        send_id_event(EV_RESET, dev->id);
        complete(client, 0, 0);
        return TRUE;
    case USBDEVFS_SETINTERFACE: {
        UMockdevIoctlData *d = resolve_or_fault(client, arg, 0, sizeof(struct usbdevfs_setinterface));
        if (!d)
            return TRUE;
        struct usbdevfs_setinterface s = *(struct usbdevfs_setinterface *)d->data;
        g_object_unref(d);
        return forward_standard_request(dev, client, 0x01, 0x0b, (uint16_t)s.altsetting, (uint16_t)s.interface);
    }
    case USBDEVFS_SETCONFIGURATION: {
        UMockdevIoctlData *d = resolve_or_fault(client, arg, 0, sizeof(unsigned int));
        if (!d)
            return TRUE;
        unsigned int configuration = *(unsigned int *)d->data;
        g_object_unref(d);
        return forward_standard_request(dev, client, 0x00, 0x09, (uint16_t)configuration, 0);
    }
    case USBDEVFS_GETDRIVER:
    case USBDEVFS_IOCTL:
        /* No kernel driver is bound to an emulated device. */
        complete(client, -1, ENODATA);
        return TRUE;
    case USBDEVFS_CONTROL:
        return control_request(dev, client, arg);
    case USBDEVFS_SUBMITURB:
        return submit_urb(dev, client, arg);
    case USBDEVFS_REAPURBNDELAY:
        return reap_urb(dev, client, arg, 0);
    case USBDEVFS_REAPURB:
        return reap_urb(dev, client, arg, 1);
    case USBDEVFS_DISCARDURB:
        return discard_urb(dev, client, arg);
    default:
        complete(client, -1, ENOTTY);
        return TRUE;
    }
}

/* A read of the device node: the descriptors from where this reader (one open file) left off. */
static gboolean handle_read(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer user_data)
{
    (void)handler;
    Device *dev = user_data;
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    size_t offset = GPOINTER_TO_SIZE(g_object_get_data(G_OBJECT(client), "dfu-hil-read-offset"));
    pthread_mutex_lock(&state_lock);
    int gone = dev->gone;
    pthread_mutex_unlock(&state_lock);
    if (gone) {
        complete(client, -1, ENODEV);
        return TRUE;
    }
    size_t left = offset < dev->descriptors_length ? dev->descriptors_length - offset : 0;
    size_t n = arg->data_len > 0 && (size_t)arg->data_len < left ? (size_t)arg->data_len : left;
    memcpy(arg->data, dev->descriptors + offset, n);
    g_object_set_data(G_OBJECT(client), "dfu-hil-read-offset", GSIZE_TO_POINTER(offset + n));
    complete(client, (long)n, 0);
    return TRUE;
}

static char *hex_of(const uint8_t *data, size_t n)
{
    char *s = g_malloc(n * 2 + 1);
    for (size_t i = 0; i < n; i++)
        snprintf(s + i * 2, 3, "%02x", data[i]);
    s[n * 2] = '\0';
    return s;
}

/* A root hub on bus 1, so that libusb sees a parent for every port. */
static void add_root_hub(void)
{
    GError *error = NULL;
    if (!umockdev_testbed_add_from_string(testbed,
            "P: /devices/usb1\n"
            "N: bus/usb/001/001\n"
            "E: SUBSYSTEM=usb\n"
            "E: DEVTYPE=usb_device\n"
            "E: DRIVER=usb\n"
            "E: BUSNUM=001\n"
            "E: DEVNUM=001\n"
            "E: DEVNAME=/dev/bus/usb/001/001\n"
            "A: busnum=1\\n\n"
            "A: devnum=1\\n\n"
            "A: speed=480\\n\n"
            "A: bConfigurationValue=1\\n\n"
            "H: descriptors=12010002090001406b1d020000060302000109021900010100e0000904000001090000000705810304000c\n",
            &error)) {
        fprintf(stderr, "umockdev-bridge: cannot add the root hub: %s\n", error->message);
        exit(3);
    }
}

static Device *find_device(uint32_t id)
{
    for (Device *d = devices; d; d = d->next)
        if (d->id == id)
            return d;
    return NULL;
}

static void add_device(const uint8_t *p, size_t n)
{
    if (n < 10) {
        fprintf(stderr, "umockdev-bridge: short ADD command\n");
        return;
    }
    uint32_t id = get_u32(p);
    int busnum = p[4];
    int devnum = p[5];
    int speed = p[6] | p[7] << 8;
    int port = p[8];
    const uint8_t *descriptors = p + 9;
    size_t descriptors_length = n - 9;
    if (busnum != 1 || devnum < 2 || devnum > 127 || port < 1) {
        send_failed(id, "bus must be 1, address 2..127 and port at least 1");
        return;
    }
    Device *dev = g_new0(Device, 1);
    dev->id = id;
    dev->busnum = busnum;
    dev->devnum = devnum;
    dev->speed_mbps = speed;
    snprintf(dev->syspath, sizeof dev->syspath, "/sys/devices/usb1/1-%d", port);
    snprintf(dev->devnode, sizeof dev->devnode, "/dev/bus/usb/%03d/%03d", busnum, devnum);
    dev->handler = umockdev_ioctl_base_new();
    dev->descriptors = g_memdup2(descriptors, descriptors_length);
    dev->descriptors_length = descriptors_length;
    g_signal_connect(dev->handler, "handle-ioctl", G_CALLBACK(handle_ioctl), dev);
    g_signal_connect(dev->handler, "handle-read", G_CALLBACK(handle_read), dev);

    GError *error = NULL;
    /* The handler must be in place before the device appears (umockdev issue #173). */
    if (!umockdev_testbed_attach_ioctl(testbed, dev->devnode, dev->handler, &error)) {
        send_failed(id, error->message);
        g_clear_error(&error);
        g_object_unref(dev->handler);
        g_free(dev->descriptors);
        g_free(dev);
        return;
    }
    char *hex = hex_of(descriptors, descriptors_length);
    char *record = g_strdup_printf(
        "P: /devices/usb1/1-%d\n"
        "N: bus/usb/%03d/%03d\n"
        "E: SUBSYSTEM=usb\n"
        "E: DEVTYPE=usb_device\n"
        "E: DRIVER=usb\n"
        "E: BUSNUM=%03d\n"
        "E: DEVNUM=%03d\n"
        "E: DEVNAME=/dev/bus/usb/%03d/%03d\n"
        "A: busnum=%d\\n\n"
        "A: devnum=%d\\n\n"
        "A: speed=%d\\n\n"
        "A: bConfigurationValue=1\\n\n"
        "H: descriptors=%s\n",
        port, busnum, devnum, busnum, devnum, busnum, devnum, busnum, devnum, speed, hex);
    g_free(hex);
    gboolean added = umockdev_testbed_add_from_string(testbed, record, &error);
    g_free(record);
    if (!added) {
        send_failed(id, error->message);
        g_clear_error(&error);
        umockdev_testbed_detach_ioctl(testbed, dev->devnode, NULL);
        g_object_unref(dev->handler);
        g_free(dev->descriptors);
        g_free(dev);
        return;
    }
    pthread_mutex_lock(&state_lock);
    dev->next = devices;
    devices = dev;
    pthread_mutex_unlock(&state_lock);
    send_id_event(EV_ADDED, id);
}

/* The device drops off the bus: transfers in flight fail as on a disconnect, then it goes. */
static void remove_device(uint32_t id)
{
    pthread_mutex_lock(&state_lock);
    Device *dev = find_device(id);
    if (!dev || dev->gone) {
        pthread_mutex_unlock(&state_lock);
        send_id_event(EV_REMOVED, id);
        return;
    }
    dev->gone = 1;
    for (Transfer **link = &dev->transfers; *link;) {
        Transfer *t = *link;
        if (t->waiter) {
            *link = t->next;
            finish_waiter(t, -ENODEV, NULL, 0);
            transfer_free(t);
            continue;
        }
        if (!t->done) {
            t->done = 1;
            t->status = -ESHUTDOWN;
        }
        link = &t->next;
    }
    pthread_cond_broadcast(&replied);
    pthread_mutex_unlock(&state_lock);
    /* The remove uevent tells libusb's hotplug monitor that the device is gone. umockdev sends it
     * itself from 0.18.4 on; older versions (Debian 12 has 0.17) only delete the files. */
#ifndef UMOCKDEV_SENDS_REMOVE_UEVENT
    umockdev_testbed_uevent(testbed, dev->syspath, "remove");
#endif
    umockdev_testbed_remove_device(testbed, dev->syspath);
    send_id_event(EV_REMOVED, id);
}

static void take_reply(const uint8_t *p, size_t n)
{
    if (n < 8)
        return;
    uint32_t tag = get_u32(p);
    int32_t status = (int32_t)get_u32(p + 4);
    pthread_mutex_lock(&state_lock);
    for (Device *dev = devices; dev; dev = dev->next) {
        for (Transfer **link = &dev->transfers; *link; link = &(*link)->next) {
            Transfer *t = *link;
            if (t->tag != tag)
                continue;
            if (t->waiter) {
                *link = t->next;
                finish_waiter(t, status, p + 8, n - 8);
                transfer_free(t);
            } else if (!t->done && !t->discarded) {
                t->done = 1;
                t->status = status;
                t->reply_length = n - 8;
                t->reply = g_memdup2(p + 8, n - 8);
            }
            pthread_cond_broadcast(&replied);
            pthread_mutex_unlock(&state_lock);
            return;
        }
    }
    /* A reply to a transfer libusb already discarded (it timed out): nobody waits for it. */
    pthread_mutex_unlock(&state_lock);
}

int main(void)
{
    events_fd = dup(STDOUT_FILENO);
    if (events_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        perror("umockdev-bridge: cannot set up its output");
        return 2;
    }
    testbed = umockdev_testbed_new();
    /* Only under the preload library does the testbed's sysfs replace /sys, and do uevents reach
     * libudev listeners. */
    if (!umockdev_in_mock_environment()) {
        fprintf(stderr, "umockdev-bridge: run me under umockdev's preload library (LD_PRELOAD=libumockdev-preload.so.0)\n");
        g_object_unref(testbed);
        return 2;
    }
    add_root_hub();
    char *root = umockdev_testbed_get_root_dir(testbed);
    send_frame(EV_READY, (const uint8_t *)root, strlen(root), NULL, 0);
    g_free(root);

    for (;;) {
        uint8_t prefix[4];
        if (read_all(STDIN_FILENO, prefix, sizeof prefix) != 0)
            break;
        uint32_t length = get_u32(prefix);
        if (length == 0 || length > 16 * 1024 * 1024) {
            fprintf(stderr, "umockdev-bridge: bad frame length %u\n", length);
            break;
        }
        uint8_t *frame = g_malloc(length);
        if (read_all(STDIN_FILENO, frame, length) != 0) {
            g_free(frame);
            break;
        }
        uint8_t type = frame[0];
        const uint8_t *payload = frame + 1;
        size_t payload_length = length - 1;
        if (type == CMD_QUIT) {
            g_free(frame);
            break;
        }
        switch (type) {
        case CMD_ADD:
            add_device(payload, payload_length);
            break;
        case CMD_REMOVE:
            if (payload_length >= 4)
                remove_device(get_u32(payload));
            break;
        case CMD_REPLY:
            take_reply(payload, payload_length);
            break;
        default:
            fprintf(stderr, "umockdev-bridge: unknown command 0x%02x\n", type);
            break;
        }
        g_free(frame);
    }

    for (Device *dev = devices; dev; dev = dev->next)
        remove_device(dev->id);
    /* Dropping the testbed removes its temporary directory. */
    g_object_unref(testbed);
    return 0;
}
