/*
 * Plantar firmware core: packs the framed byte stream (COBS + 0x00) into BLE DATA
 * notifications, each a u8 counter and at most ATT_MTU - 4 stream bytes
 * (PROTOCOL.md section 5). Byte-identical to base.wire.ble_packing.pack_notifications
 * when every frame is pushed and flushed at the end.
 */
#include "plantar_fw.h"

#include <string.h>

static void send_current(plantar_packer *p) {
    if (p->len == 0) return;
    p->value[0] = p->counter;
    if (p->notify(p->ctx, p->value, (size_t)p->len + 1u) == 0) p->sent++;
    else p->dropped++;
    p->counter = (uint8_t)(p->counter + 1u);
    p->len = 0;
}

int32_t plantar_packer_init(plantar_packer *p, uint16_t att_mtu, uint8_t start_counter,
                            plantar_notify_fn notify, void *ctx) {
    if (!p || !notify || att_mtu < 23 || att_mtu > PLANTAR_MAX_ATT_MTU) return PLANTAR_ERR_ARG;
    memset(p, 0, sizeof *p);
    p->capacity = (uint16_t)(att_mtu - 4u);
    p->counter = start_counter;
    p->notify = notify;
    p->ctx = ctx;
    return 0;
}

int32_t plantar_packer_set_mtu(plantar_packer *p, uint16_t att_mtu) {
    if (att_mtu < 23 || att_mtu > PLANTAR_MAX_ATT_MTU) return PLANTAR_ERR_ARG;
    send_current(p);
    p->capacity = (uint16_t)(att_mtu - 4u);
    return 0;
}

/* One frame (its bytes up to and including its 0x00, or a final partial). */
static void push_frame(plantar_packer *p, const uint8_t *f, size_t n) {
    const size_t cap = p->capacity;
    if (p->len + n <= cap) { /* fits in the space left */
        memcpy(p->value + 1 + p->len, f, n);
        p->len = (uint16_t)(p->len + n);
        return;
    }
    if (n <= cap) { /* fits in a notification of its own: start the next one */
        send_current(p);
        memcpy(p->value + 1, f, n);
        p->len = (uint16_t)n;
        return;
    }
    while (n) { /* longer than a notification: fill and continue */
        size_t room = cap - p->len;
        if (room > n) room = n;
        memcpy(p->value + 1 + p->len, f, room);
        p->len = (uint16_t)(p->len + room);
        f += room;
        n -= room;
        if (p->len == cap) send_current(p);
    }
}

void plantar_packer_push(plantar_packer *p, const uint8_t *framed, size_t n) {
    while (n) {
        const uint8_t *z = memchr(framed, 0, n);
        const size_t len = z ? (size_t)(z - framed) + 1u : n;
        push_frame(p, framed, len);
        framed += len;
        n -= len;
    }
}

void plantar_packer_flush(plantar_packer *p) { send_current(p); }

int plantar_packer_write(void *ctx, const uint8_t *framed, size_t n) {
    plantar_packer *p = (plantar_packer *)ctx;
    const uint32_t dropped = p->dropped;
    plantar_packer_push(p, framed, n);
    return p->dropped != dropped;
}
