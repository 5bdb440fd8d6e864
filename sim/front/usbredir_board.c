/* usbredir frontend: one emulated board on a QEMU usb-redir port, driving sim_device and msc_bot. */
#include "front/usbredir_board.h"
#include "usbredir_peer.h"
#include "cmboot/version.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <usbredirparser.h>

#include "cmboot/error.h"

#define MAX_PACKET_LEN (64u * 1024u * 1024u) /* bound on what we allocate for one IN packet */
#define FULL_SPEED_BYTES_PER_S 1216000u      /* 19 bulk packets of 64 bytes per 1 ms frame */

typedef enum pkt_kind { PKT_CONTROL = 1, PKT_BULK } pkt_kind;

/* A packet from QEMU not answered yet: held by the device (NAK) or paced by the link model. */
typedef struct pkt {
    struct pkt *next;
    uint64_t id;
    pkt_kind kind;
    uint8_t endpoint;
    struct usb_redir_control_packet_header ctrl;
    struct usb_redir_bulk_packet_header bulk;
    uint8_t *data; /* OUT data (parser-owned, freed with usbredirparser_free_packet_data) */
    int data_len;
    /* prepared reply (paced by the link model) */
    bool answered;
    int64_t ready_us;
    uint8_t status;
    uint8_t *reply; /* IN data, malloc'd */
    uint32_t reply_len;
} pkt;

struct usbredir_board {
    usbredir_peer peer; /* first: the parser's priv is the board and its peer */
    usbredir_board_config cfg;
    char name[32];
    char socket_path[108];
    int listen_fd;
    sim_device *dev;
    msc_bot *msc;
    msc_speed speed; /* the eMMC behind msc */
    int64_t t0_us;
    /* connection state */
    bool hello;
    bool plugged;
    bool model_connected;
    cmboot_stage model_stage;
    unsigned model_gen;
    bool qemu_connected;
    unsigned qemu_gen;
    cmboot_stage qemu_stage;
    bool awaiting_ack;
    bool vanished;
    uint8_t configuration;
    bool full_speed; /* of the stage QEMU sees */
    /* a SET_CONFIGURATION the device has not answered yet (late configuration) */
    bool setconf_pending;
    uint64_t setconf_id;
    uint8_t setconf_value;
    /* held packets in arrival order */
    pkt *head;
    pkt **tail;
    int64_t link_free_us;
    usbredir_board_report report;
};

int64_t usbredir_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t now_ms(void)
{
    return usbredir_now_us() / 1000;
}

static void blog(usbredir_board *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void blog(usbredir_board *b, const char *fmt, ...)
{
    if (!b->cfg.log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    b->cfg.log(b->cfg.log_user, b->name, usbredir_now_us() - b->t0_us, line);
}

static usbredir_stage_record *current_record(usbredir_board *b)
{
    if (b->report.stage_count == 0)
        return NULL;
    return &b->report.stages[b->report.stage_count - 1];
}

/* ---- connecting and disconnecting on the bus ---- */

static void free_pkt(usbredir_board *b, pkt *p)
{
    if (p->data)
        usbredirparser_free_packet_data(b->peer.parser, p->data);
    free(p->reply);
    free(p);
}

static void send_reply(usbredir_board *b, pkt *p, uint8_t status, const uint8_t *data, uint32_t len)
{
    if (p->kind == PKT_CONTROL) {
        struct usb_redir_control_packet_header h = p->ctrl;
        h.status = status;
        h.length = (uint16_t)len;
        usbredirparser_send_control_packet(b->peer.parser, p->id, &h, (uint8_t *)data,
                                           (p->endpoint & 0x80) ? (int)len : 0);
    } else {
        struct usb_redir_bulk_packet_header h = p->bulk;
        h.status = status;
        h.length = (uint16_t)len;
        h.length_high = (uint16_t)(len >> 16);
        usbredirparser_send_bulk_packet(b->peer.parser, p->id, &h, (uint8_t *)data,
                                        (p->endpoint & 0x80) ? (int)len : 0);
    }
}

/* Fails every packet still held (the device left the bus under them). */
static void fail_all_held(usbredir_board *b, uint8_t status)
{
    pkt *p = b->head;
    while (p) {
        pkt *next = p->next;
        send_reply(b, p, status, NULL, 0);
        free_pkt(b, p);
        p = next;
    }
    b->head = NULL;
    b->tail = &b->head;
}

static void fill_interfaces(usbredir_board *b, struct usb_redir_interface_info_header *ii,
                            struct usb_redir_ep_info_header *ei)
{
    memset(ii, 0, sizeof(*ii));
    memset(ei, 0, sizeof(*ei));
    for (int i = 0; i < 32; i++)
        ei->type[i] = usb_redir_type_invalid;
    ei->type[0] = usb_redir_type_control;
    ei->type[16] = usb_redir_type_control;
    ei->max_packet_size[0] = 64;
    ei->max_packet_size[16] = 64;
    if (b->model_stage == CMBOOT_STAGE_MASS_STORAGE) {
        ii->interface_count = 1;
        ii->interface_class[0] = 0x08;
        ii->interface_subclass[0] = 0x06;
        ii->interface_protocol[0] = 0x50;
        uint8_t eps[2] = {MSC_EP_OUT, MSC_EP_IN};
        for (int i = 0; i < 2; i++) {
            int idx = ((eps[i] & 0x80) >> 3) | (eps[i] & 0x0f);
            ei->type[idx] = usb_redir_type_bulk;
            ei->max_packet_size[idx] = MSC_MAX_PACKET;
        }
        return;
    }
    /* Every other stage: exactly what the model's configuration descriptor says (interfaces, endpoints,
     * max packet sizes), so the guest sees no endpoint the device does not have. */
    uint8_t cfg[256];
    int n = sim_device_settled_config(b->dev, cfg, sizeof(cfg));
    int iface = -1;
    ii->interface_count = 0;
    for (int off = 0; n > 0 && off + 2 <= n && cfg[off] >= 2 && off + cfg[off] <= n; off += cfg[off]) {
        const uint8_t *d = cfg + off;
        if (d[1] == 4 && d[0] >= 9) {
            iface = d[2];
            if (d[3] != 0 || ii->interface_count >= 32)
                continue; /* an alternate setting (the normal gadget's ECM data): its endpoints still count */
            unsigned k = ii->interface_count++;
            ii->interface[k] = d[2];
            ii->interface_class[k] = d[5];
            ii->interface_subclass[k] = d[6];
            ii->interface_protocol[k] = d[7];
        } else if (d[1] == 5 && d[0] >= 7 && iface >= 0) {
            int idx = ((d[2] & 0x80) >> 3) | (d[2] & 0x0f);
            ei->type[idx] = (d[3] & 3) == 3 ? usb_redir_type_interrupt : usb_redir_type_bulk;
            ei->interval[idx] = d[6];
            ei->max_packet_size[idx] = (uint16_t)(d[4] | d[5] << 8);
            ei->interface[idx] = (uint8_t)iface;
        }
    }
}

static void connect_now(usbredir_board *b)
{
    struct usb_redir_interface_info_header ii;
    struct usb_redir_ep_info_header ei;
    fill_interfaces(b, &ii, &ei);
    sim_identity id;
    sim_device_identity(b->dev, &id);
    b->full_speed = id.full_speed;
    struct usb_redir_device_connect_header dc = {
        .speed = id.full_speed ? usb_redir_speed_full : usb_redir_speed_high,
        .device_class = 0,
        .vendor_id = id.vid,
        .product_id = id.pid,
        .device_version_bcd = id.bcd_device,
    };
    /* QEMU refuses a device_connect without interface_info first. */
    usbredirparser_send_interface_info(b->peer.parser, &ii);
    usbredirparser_send_ep_info(b->peer.parser, &ei);
    usbredirparser_send_device_connect(b->peer.parser, &dc);
    b->qemu_connected = true;
    b->qemu_gen = b->model_gen;
    b->qemu_stage = b->model_stage;
    b->configuration = 0;
    if (b->model_stage == CMBOOT_STAGE_MASS_STORAGE)
        msc_bot_reset(b->msc);
    if (b->report.stage_count == USBREDIR_STAGE_RECORDS) {
        memmove(&b->report.stages[0], &b->report.stages[1], sizeof(b->report.stages[0]) * (USBREDIR_STAGE_RECORDS - 1));
        b->report.stage_count--;
    }
    usbredir_stage_record *r = &b->report.stages[b->report.stage_count++];
    memset(r, 0, sizeof(*r));
    r->stage = b->model_stage;
    r->full_speed = b->full_speed;
    r->connect_us = usbredir_now_us() - b->t0_us;
    r->first_vendor_us = -1;
    r->last_answer_us = -1;
    r->disconnect_us = -1;
    blog(b, "CONNECT stage=%s %04x:%04x iSerialNumber=%u serial=\"%s\" %s speed", sim_stage_name(b->model_stage),
         id.vid, id.pid, id.serial_index, id.serial, id.full_speed ? "full" : "high");
}

static void answer_setconf(usbredir_board *b, uint8_t status)
{
    struct usb_redir_configuration_status_header st = {.status = status, .configuration = b->setconf_value};
    if (status == usb_redir_success)
        b->configuration = b->setconf_value;
    b->setconf_pending = false;
    usbredirparser_send_configuration_status(b->peer.parser, b->setconf_id, &st);
}

static void disconnect_now(usbredir_board *b, const char *why)
{
    fail_all_held(b, usb_redir_ioerror);
    if (b->setconf_pending)
        answer_setconf(b, usb_redir_ioerror);
    usbredirparser_send_device_disconnect(b->peer.parser);
    b->qemu_connected = false;
    b->awaiting_ack = usbredirparser_peer_has_cap(b->peer.parser, usb_redir_cap_device_disconnect_ack);
    usbredir_stage_record *r = current_record(b);
    if (r)
        r->disconnect_us = usbredir_now_us() - b->t0_us;
    blog(b, "DISCONNECT stage=%s (%s)", sim_stage_name(b->qemu_stage), why);
}

/* Brings what QEMU sees in line with the model and the plug state. */
static void sync_bus(usbredir_board *b)
{
    if (b->peer.fd < 0 || !b->hello)
        return;
    bool desired = b->plugged && b->model_connected && !b->vanished;
    if (b->qemu_connected && (!desired || b->qemu_gen != b->model_gen))
        disconnect_now(b, b->vanished ? "vanished" : !b->plugged ? "unplugged" : "re-enumeration");
    if (!b->qemu_connected && desired && !b->awaiting_ack)
        connect_now(b);
}

static void drain_events(usbredir_board *b)
{
    sim_event ev;
    while (sim_device_take_event(b->dev, &ev)) {
        switch (ev.type) {
        case SIM_EV_CONNECT:
            b->model_connected = true;
            b->model_stage = ev.stage;
            b->model_gen++;
            break;
        case SIM_EV_DISCONNECT: b->model_connected = false; break;
        case SIM_EV_VANISH:
            b->model_connected = false;
            b->vanished = true;
            break;
        }
        /* A disconnect then connect drained together must still reach QEMU as two events. */
        sync_bus(b);
    }
    sync_bus(b);
}

/* ---- serving packets ---- */

static uint8_t status_of(sim_status s)
{
    switch (s) {
    case SIM_OK: return usb_redir_success;
    case SIM_STALL: return usb_redir_stall;
    case SIM_OVERFLOW: return usb_redir_babble;
    default: return usb_redir_ioerror;
    }
}

static void mark_vendor(usbredir_board *b)
{
    usbredir_stage_record *r = current_record(b);
    if (r && r->first_vendor_us < 0)
        r->first_vendor_us = usbredir_now_us() - b->t0_us;
}

/* Completes p now, or records a paced completion when the link (or the eMMC: storage_done_us, 0 = none) is
 * busy. */
static void complete_paced(usbredir_board *b, pkt *p, uint8_t status, uint8_t *reply, uint32_t reply_len,
                           uint32_t moved, int64_t storage_done_us)
{
    int64_t now = usbredir_now_us();
    usbredir_stage_record *r = current_record(b);
    p->answered = true;
    p->status = status;
    p->reply = reply;
    p->reply_len = reply_len;
    p->ready_us = now;
    uint64_t rate = b->cfg.link_bytes_per_s;
    if (rate > FULL_SPEED_BYTES_PER_S && b->full_speed)
        rate = FULL_SPEED_BYTES_PER_S; /* a full-speed stage cannot move more */
    if (p->kind == PKT_BULK && rate > 0 && moved > 0) {
        int64_t start = b->link_free_us > now ? b->link_free_us : now;
        int64_t done = start + (int64_t)((uint64_t)moved * 1000000u / rate);
        b->link_free_us = done;
        p->ready_us = done;
        if (r)
            r->link_wait_us += (uint64_t)(done - now);
    }
    /* The eMMC works beside the link: the later of the two answers. */
    if (storage_done_us > p->ready_us) {
        if (r)
            r->storage_wait_us += (uint64_t)(storage_done_us - p->ready_us);
        p->ready_us = storage_done_us;
    }
    if (r) {
        if (p->kind == PKT_BULK && (p->endpoint & 0x80))
            r->bulk_in_bytes += moved;
        else if (p->kind == PKT_BULK)
            r->bulk_out_bytes += moved;
        r->last_answer_us = p->ready_us - b->t0_us;
    }
}

static void complete(usbredir_board *b, pkt *p, uint8_t status, uint8_t *reply, uint32_t reply_len, uint32_t moved)
{
    complete_paced(b, p, status, reply, reply_len, moved, 0);
}

/* Control transfer: class requests and the configuration descriptor of the mass-storage stage are ours, the
 * rest is the device model's. Returns false when the device NAKs. */
static bool serve_control(usbredir_board *b, pkt *p)
{
    const struct usb_redir_control_packet_header *c = &p->ctrl;
    uint8_t setup[8] = {c->requesttype,     c->request,
                        (uint8_t)c->value,  (uint8_t)(c->value >> 8),
                        (uint8_t)c->index,  (uint8_t)(c->index >> 8),
                        (uint8_t)c->length, (uint8_t)(c->length >> 8)};
    bool in = (c->requesttype & 0x80) != 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (in && c->length > 0) {
        buf = calloc(1, c->length);
        if (!buf) {
            complete(b, p, usb_redir_ioerror, NULL, 0, 0);
            return true;
        }
    }
    if (b->qemu_stage == CMBOOT_STAGE_MASS_STORAGE && (c->requesttype & 0x60) == 0x20) {
        int n = msc_bot_class_request(b->msc, setup, buf, c->length);
        complete(b, p, n < 0 ? usb_redir_stall : usb_redir_success, buf, n < 0 ? 0 : (uint32_t)n, 0);
        return true;
    }
    if (b->qemu_stage == CMBOOT_STAGE_MASS_STORAGE && c->requesttype == 0x80 && c->request == 6 &&
        (c->value >> 8) == 2) {
        size_t n = msc_bot_config_descriptor(buf, c->length);
        complete(b, p, usb_redir_success, buf, (uint32_t)n, 0);
        return true;
    }
    if ((c->requesttype & 0x60) == 0x40)
        mark_vendor(b);
    uint8_t *data = in ? buf : p->data;
    uint8_t scratch[1];
    if (!data)
        data = scratch;
    len = c->length;
    sim_status s = sim_device_control(b->dev, setup, data, &len, now_ms());
    if (s == SIM_PENDING) {
        free(buf);
        return false;
    }
    if (b->cfg.verbose)
        blog(b, "control %02x %02x wValue=%04x wIndex=%04x wLength=%u -> %s %zu", c->requesttype, c->request, c->value,
             c->index, c->length,
             s == SIM_OK      ? "ok"
             : s == SIM_STALL ? "stall"
                              : "no device",
             in ? len : 0);
    if (len > c->length)
        len = c->length;
    if (in && s == SIM_OK) {
        complete(b, p, usb_redir_success, buf, (uint32_t)len, 0);
    } else {
        free(buf);
        complete(b, p, status_of(s), NULL, 0, 0);
    }
    return true;
}

static bool serve_bulk(usbredir_board *b, pkt *p)
{
    uint32_t want = (uint32_t)p->bulk.length | (uint32_t)p->bulk.length_high << 16;
    bool in = (p->endpoint & 0x80) != 0;
    if (b->qemu_stage == CMBOOT_STAGE_MASS_STORAGE) {
        mark_vendor(b);
        if (in) {
            if (want > MAX_PACKET_LEN) {
                complete(b, p, usb_redir_inval, NULL, 0, 0);
                return true;
            }
            uint8_t *buf = malloc(want ? want : 1);
            size_t got = 0;
            msc_status s = buf ? msc_bot_in(b->msc, buf, want, &got) : MSC_STALL;
            if (s == MSC_PENDING) {
                free(buf);
                return false;
            }
            if (s == MSC_STALL) {
                free(buf);
                complete(b, p, usb_redir_stall, NULL, 0, 0);
                return true;
            }
            complete_paced(b, p, usb_redir_success, buf, (uint32_t)got, (uint32_t)got,
                           msc_speed_done_at(&b->speed, usbredir_now_us()));
            return true;
        }
        size_t used = 0;
        msc_status s = msc_bot_out(b->msc, p->data, (size_t)p->data_len, &used);
        if (s == MSC_PENDING)
            return false;
        complete_paced(b, p, s == MSC_STALL ? usb_redir_stall : usb_redir_success, NULL, (uint32_t)used, (uint32_t)used,
                       msc_speed_done_at(&b->speed, usbredir_now_us()));
        return true;
    }
    if (in && b->qemu_stage == SIM_STAGE_FASTBOOT) {
        mark_vendor(b);
        if (want > MAX_PACKET_LEN) {
            complete(b, p, usb_redir_inval, NULL, 0, 0);
            return true;
        }
        uint8_t *buf = malloc(want ? want : 1);
        size_t got = 0;
        sim_status s = buf ? sim_device_bulk_in(b->dev, p->endpoint, buf, want, &got, now_ms()) : SIM_STALL;
        if (s == SIM_PENDING) {
            free(buf);
            return false;
        }
        if (s != SIM_OK) {
            free(buf);
            complete(b, p, status_of(s), NULL, 0, 0);
            return true;
        }
        complete(b, p, usb_redir_success, buf, (uint32_t)got, (uint32_t)got);
        return true;
    }
    if (in)
        return false; /* the boot protocol never answers bulk IN: NAK until cancelled */
    mark_vendor(b);
    size_t used = 0;
    sim_status s = sim_device_bulk_out(b->dev, p->endpoint, p->data, (size_t)p->data_len, &used, now_ms());
    if (s == SIM_PENDING)
        return false;
    if (b->cfg.verbose)
        blog(b, "bulk out ep %02x %d bytes -> %s %zu", p->endpoint, p->data_len, s == SIM_OK ? "ok" : "error", used);
    complete(b, p, status_of(s), NULL, (uint32_t)used, (uint32_t)used);
    return true;
}

/* Tries every held packet in order; a packet waits while an earlier one on its endpoint is unanswered. */
static void service(usbredir_board *b)
{
    for (int round = 0; round < 4; round++) {
        bool progress = false;
        uint32_t blocked = 0; /* bit per endpoint index */
        int64_t now = usbredir_now_us();
        pkt **pp = &b->head;
        while (*pp) {
            pkt *p = *pp;
            uint32_t bit = 1u << (((p->endpoint & 0x80) >> 3) | (p->endpoint & 0x0f));
            bool done = false;
            if (!(blocked & bit)) {
                if (!p->answered && b->qemu_connected)
                    progress |= p->kind == PKT_CONTROL ? serve_control(b, p) : serve_bulk(b, p);
                if (p->answered && p->ready_us <= now) {
                    send_reply(b, p, p->status, p->reply, p->reply_len);
                    done = true;
                }
            }
            if (done) {
                *pp = p->next;
                if (b->tail == &p->next)
                    b->tail = pp;
                free_pkt(b, p);
                progress = true;
            } else {
                blocked |= bit;
                pp = &p->next;
            }
        }
        drain_events(b);
        if (!progress)
            break;
    }
}

static void enqueue(usbredir_board *b, pkt *p)
{
    p->next = NULL;
    *b->tail = p;
    b->tail = &p->next;
    if (!b->qemu_connected && !p->answered)
        complete(b, p, usb_redir_ioerror, NULL, 0, 0); /* for a device QEMU already saw leave */
    service(b);
}

/* ---- parser callbacks ---- */

static void cb_hello(void *priv, struct usb_redir_hello_header *h)
{
    usbredir_board *b = priv;
    blog(b, "QEMU hello: \"%s\"", h->version);
    b->hello = true;
    drain_events(b);
}

static void cb_reset(void *priv)
{
    usbredir_board *b = priv;
    b->report.resets++;
    sim_device_reset(b->dev);
    b->configuration = 0;
    if (b->qemu_stage == CMBOOT_STAGE_MASS_STORAGE)
        msc_bot_reset(b->msc);
    if (b->cfg.verbose)
        blog(b, "port reset");
}

/* Answers a held SET_CONFIGURATION once the model takes it. QEMU completes the guest's control transfer only
 * with this status, so until then the guest kernel waits in usb_set_configuration and sysfs shows no
 * bNumInterfaces although the device's ADD uevent is out. */
static void try_setconf(usbredir_board *b)
{
    if (!b->setconf_pending)
        return;
    if (!b->qemu_connected) {
        answer_setconf(b, usb_redir_ioerror);
        return;
    }
    uint8_t setup[8] = {0x00, 9, b->setconf_value, 0, 0, 0, 0, 0};
    size_t len = 0;
    uint8_t scratch[1];
    sim_status s = sim_device_control(b->dev, setup, scratch, &len, now_ms());
    if (s == SIM_PENDING)
        return;
    if (b->cfg.verbose || s != SIM_OK)
        blog(b, "SET_CONFIGURATION(%u) -> %s", b->setconf_value, s == SIM_OK ? "ok" : "error");
    answer_setconf(b, status_of(s));
}

static void cb_set_configuration(void *priv, uint64_t id, struct usb_redir_set_configuration_header *h)
{
    usbredir_board *b = priv;
    if (b->setconf_pending)
        answer_setconf(b, usb_redir_cancelled); /* QEMU sends one at a time; be safe */
    b->setconf_pending = true;
    b->setconf_id = id;
    b->setconf_value = h->configuration;
    try_setconf(b);
    drain_events(b);
}

static void cb_get_configuration(void *priv, uint64_t id)
{
    usbredir_board *b = priv;
    struct usb_redir_configuration_status_header st = {.status = usb_redir_success, .configuration = b->configuration};
    usbredirparser_send_configuration_status(b->peer.parser, id, &st);
}

static void cb_set_alt(void *priv, uint64_t id, struct usb_redir_set_alt_setting_header *h)
{
    usbredir_board *b = priv;
    struct usb_redir_alt_setting_status_header st = {
        .status = h->alt == 0 ? usb_redir_success : usb_redir_stall, .interface = h->interface, .alt = 0};
    usbredirparser_send_alt_setting_status(b->peer.parser, id, &st);
}

static void cb_get_alt(void *priv, uint64_t id, struct usb_redir_get_alt_setting_header *h)
{
    usbredir_board *b = priv;
    struct usb_redir_alt_setting_status_header st = {.status = usb_redir_success, .interface = h->interface, .alt = 0};
    usbredirparser_send_alt_setting_status(b->peer.parser, id, &st);
}

static void cb_cancel(void *priv, uint64_t id)
{
    usbredir_board *b = priv;
    if (b->setconf_pending && b->setconf_id == id) {
        blog(b, "SET_CONFIGURATION cancelled by the guest (its timeout is 5 s)");
        answer_setconf(b, usb_redir_cancelled);
        return;
    }
    for (pkt **pp = &b->head; *pp; pp = &(*pp)->next) {
        pkt *p = *pp;
        if (p->id != id)
            continue;
        *pp = p->next;
        if (b->tail == &p->next)
            b->tail = pp;
        /* a transfer the device was NAKing: the model may have committed to it (cancel_misaligns) */
        if (p->kind == PKT_CONTROL && !p->answered && b->qemu_connected && b->qemu_stage != CMBOOT_STAGE_MASS_STORAGE) {
            const struct usb_redir_control_packet_header *c = &p->ctrl;
            uint8_t setup[8] = {c->requesttype,     c->request,
                                (uint8_t)c->value,  (uint8_t)(c->value >> 8),
                                (uint8_t)c->index,  (uint8_t)(c->index >> 8),
                                (uint8_t)c->length, (uint8_t)(c->length >> 8)};
            sim_device_cancel(b->dev, setup, now_ms());
        }
        /* QEMU keeps the id and waits for this completion. */
        send_reply(b, p, usb_redir_cancelled, NULL, 0);
        free_pkt(b, p);
        b->report.cancelled++;
        if (b->cfg.verbose)
            blog(b, "cancelled packet %llu", (unsigned long long)id);
        return;
    }
}

static void cb_disconnect_ack(void *priv)
{
    usbredir_board *b = priv;
    b->awaiting_ack = false;
    drain_events(b);
}

static void cb_control(void *priv, uint64_t id, struct usb_redir_control_packet_header *h, uint8_t *data, int len)
{
    usbredir_board *b = priv;
    pkt *p = calloc(1, sizeof(*p));
    if (!p) {
        usbredirparser_free_packet_data(b->peer.parser, data);
        return;
    }
    p->id = id;
    p->kind = PKT_CONTROL;
    p->endpoint = h->endpoint;
    p->ctrl = *h;
    p->data = data;
    p->data_len = len;
    /* An OUT request must carry the bytes it announces: bound it before the model sees it. */
    if (!(h->requesttype & 0x80) && len < h->length) {
        complete(b, p, usb_redir_inval, NULL, 0, 0);
    }
    enqueue(b, p);
}

static void cb_bulk(void *priv, uint64_t id, struct usb_redir_bulk_packet_header *h, uint8_t *data, int len)
{
    usbredir_board *b = priv;
    pkt *p = calloc(1, sizeof(*p));
    if (!p) {
        usbredirparser_free_packet_data(b->peer.parser, data);
        return;
    }
    p->id = id;
    p->kind = PKT_BULK;
    p->endpoint = h->endpoint;
    p->bulk = *h;
    p->data = data;
    p->data_len = len;
    enqueue(b, p);
}

/* ---- lifetime ---- */

static void close_peer(usbredir_board *b)
{
    if (b->peer.fd < 0)
        return;
    pkt *p = b->head;
    while (p) {
        pkt *next = p->next;
        free_pkt(b, p);
        p = next;
    }
    b->head = NULL;
    b->tail = &b->head;
    if (b->peer.parser)
        usbredirparser_destroy(b->peer.parser);
    b->peer.parser = NULL;
    b->setconf_pending = false;
    close(b->peer.fd);
    b->peer.fd = -1;
    b->hello = false;
    b->qemu_connected = false;
    b->awaiting_ack = false;
    b->report.peer_connected = false;
    b->report.peer_closed = true;
    blog(b, "QEMU closed the connection");
}

static void peer_log(void *owner, const char *line)
{
    blog(owner, "%s", line);
}

static int open_parser(usbredir_board *b)
{
    /* No interrupt or iso endpoints: the peer refuses those. */
    static const usbredir_peer_handlers h = {
        .hello = cb_hello,
        .reset = cb_reset,
        .set_configuration = cb_set_configuration,
        .get_configuration = cb_get_configuration,
        .set_alt_setting = cb_set_alt,
        .get_alt_setting = cb_get_alt,
        .cancel_data_packet = cb_cancel,
        .device_disconnect_ack = cb_disconnect_ack,
        .control_packet = cb_control,
        .bulk_packet = cb_bulk,
    };
    b->peer.verbose = b->cfg.verbose;
    b->peer.log = peer_log;
    return usbredir_peer_open(&b->peer, b, &h);
}

int usbredir_board_new(const usbredir_board_config *cfg, usbredir_board **out)
{
    if (!cfg || !out || !cfg->socket_path || !cfg->disk_path || strlen(cfg->socket_path) >= 108)
        return CMBOOT_ERR_INVALID_ARG;
    *out = NULL;
    usbredir_board *b = calloc(1, sizeof(*b));
    if (!b)
        return CMBOOT_ERR_NO_MEMORY;
    b->cfg = *cfg;
    snprintf(b->name, sizeof(b->name), "%s", cfg->name ? cfg->name : "board");
    snprintf(b->socket_path, sizeof(b->socket_path), "%s", cfg->socket_path);
    b->cfg.name = b->name;
    b->cfg.socket_path = b->socket_path;
    b->cfg.disk_path = NULL;
    b->peer.fd = -1;
    b->listen_fd = -1;
    b->tail = &b->head;
    b->plugged = !cfg->start_unplugged;
    b->t0_us = usbredir_now_us();
    int rc = sim_device_new(&cfg->sim, &b->dev);
    if (rc != CMBOOT_OK) {
        free(b);
        return rc;
    }
    msc_config mc[MSC_MAX_LUNS] = {{.image_path = cfg->disk_path}};
    unsigned n = 1;
    for (unsigned i = 0; i < cfg->n_extra_luns && n < MSC_MAX_LUNS; i++)
        mc[n++] = cfg->extra_luns[i];
    rc = cfg->n_extra_luns < MSC_MAX_LUNS ? msc_bot_open_luns(mc, n, &b->msc) : CMBOOT_ERR_INVALID_ARG;
    if (rc != CMBOOT_OK) {
        usbredir_board_free(b);
        return rc;
    }
    msc_speed_init(&b->speed, cfg->emmc_write_bytes_per_s, cfg->emmc_read_bytes_per_s);
    msc_bot_set_speed(b->msc, &b->speed);
    b->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, b->socket_path, strlen(b->socket_path) + 1);
    unlink(b->socket_path);
    if (b->listen_fd < 0 || bind(b->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(b->listen_fd, 1) != 0) {
        usbredir_board_free(b);
        return CMBOOT_ERR_IO;
    }
    *out = b;
    return CMBOOT_OK;
}

void usbredir_board_free(usbredir_board *b)
{
    if (!b)
        return;
    close_peer(b);
    if (b->listen_fd >= 0) {
        close(b->listen_fd);
        unlink(b->socket_path);
    }
    msc_bot_close(b->msc);
    sim_device_free(b->dev);
    free(b);
}

int usbredir_board_fd(const usbredir_board *b, short *events)
{
    if (b->peer.fd < 0) {
        *events = POLLIN;
        return b->listen_fd;
    }
    *events = POLLIN;
    if (b->peer.parser && usbredirparser_has_data_to_write(b->peer.parser))
        *events |= POLLOUT;
    return b->peer.fd;
}

static void flush(usbredir_board *b)
{
    if (b->peer.fd >= 0 && b->peer.parser && usbredirparser_has_data_to_write(b->peer.parser)) {
        if (usbredirparser_do_write(b->peer.parser) != 0)
            close_peer(b);
    }
}

void usbredir_board_handle(usbredir_board *b, short revents)
{
    if (b->peer.fd < 0) {
        if (!(revents & POLLIN))
            return;
        int fd = accept4(b->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (b->report.peer_closed) {
            close(fd); /* one QEMU per board run */
            return;
        }
        b->peer.fd = fd;
        b->report.peer_connected = true;
        if (open_parser(b) != CMBOOT_OK) {
            close_peer(b);
            return;
        }
        blog(b, "QEMU connected");
        flush(b);
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (usbredirparser_do_read(b->peer.parser) == usbredirparser_read_io_error) {
            close_peer(b);
            return;
        }
    }
    usbredir_board_step(b);
}

void usbredir_board_step(usbredir_board *b)
{
    if (b->peer.fd >= 0 && b->peer.parser) {
        sim_device_poll(b->dev, now_ms());
        drain_events(b);
        try_setconf(b);
        service(b);
    }
    flush(b);
}

int64_t usbredir_board_next_wakeup_us(const usbredir_board *b)
{
    if (b->peer.fd < 0)
        return INT64_MAX;
    int64_t t = INT64_MAX;
    int64_t w = sim_device_next_wakeup(b->dev);
    if (w != INT64_MAX)
        t = w * 1000;
    /* NAKed transfers are retried on traffic and on the model's wake-up; paced ones when they are due. */
    for (const pkt *p = b->head; p; p = p->next) {
        if (p->answered && p->ready_us < t)
            t = p->ready_us;
    }
    return t;
}

int usbredir_board_replace(usbredir_board *b, const sim_config *sim, const char *disk_path)
{
    if (!b || !sim || !disk_path)
        return CMBOOT_ERR_INVALID_ARG;
    if (b->plugged || b->qemu_connected)
        return CMBOOT_ERR_BUSY; /* a board is taken off the port before another is put on it */
    sim_device *dev = NULL;
    msc_bot *msc = NULL;
    msc_config mc = {.image_path = disk_path};
    int rc = sim_device_new(sim, &dev);
    if (rc == CMBOOT_OK)
        rc = msc_bot_open(&mc, &msc);
    if (rc != CMBOOT_OK) {
        sim_device_free(dev);
        return rc;
    }
    msc_bot_close(b->msc);
    sim_device_free(b->dev);
    b->dev = dev;
    b->msc = msc;
    msc_speed_init(&b->speed, b->cfg.emmc_write_bytes_per_s, b->cfg.emmc_read_bytes_per_s);
    msc_bot_set_speed(b->msc, &b->speed);
    b->model_connected = false;
    b->vanished = false;
    blog(b, "REPLACE serial=\"%s\" disk %s", sim->serial, disk_path);
    drain_events(b); /* the new board's power-on connect waits for the plug */
    return CMBOOT_OK;
}

void usbredir_board_plug(usbredir_board *b, bool plugged)
{
    b->plugged = plugged;
    blog(b, "%s", plugged ? "PLUG" : "UNPLUG");
    drain_events(b);
    flush(b);
}

void usbredir_board_report_get(const usbredir_board *b, usbredir_board_report *out)
{
    *out = b->report;
    sim_device_result(b->dev, &out->sim);
    msc_bot_stats(b->msc, &out->msc);
    out->emmc_write_us = b->speed.write_ns / 1000;
    out->emmc_read_us = b->speed.read_ns / 1000;
}

sim_device *usbredir_board_device(usbredir_board *b)
{
    return b->dev;
}
