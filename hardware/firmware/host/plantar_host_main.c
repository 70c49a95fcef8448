/*
 * Host test driver of the firmware core (not part of the core). Built by
 * firmware_bridge/firmware_core.py as a plain executable so the core can run under
 * valgrind, AddressSanitizer/UBSan and callgrind. Binary stdin -> binary stdout.
 *
 *   encode            records -> per record: i32 length (or error), framed bytes
 *                     record: u8 encoding (255 auto), u8 foot, u16 device_id, u32 seq,
 *                             u64 t_us, u16 n_sensels, u8 n_shear, u16[n], i16[3k]
 *   pack MTU START    framed stream -> notifications: u16 length, value
 *   segments          records u32 length + COBS bytes -> i32 cobs result, decoded bytes,
 *                     i32 control result, u8 command, u16 argument
 *   rx                byte stream -> per accepted CONTROL: u8 command, u16 argument;
 *                     then u32 frames, u32 rejected
 *   device N MTU [row] N samples of a device with a synthetic ADC, driven by CONTROL
 *                     messages, through the BLE packer -> notifications as in pack
 *   bench FILE        FILE: u16 n_sensels, u8 n_shear, u32 n_frames, then per frame
 *                     u16[n], i16[3k]. Encodes, frames and packs every frame; run under
 *                     callgrind (scripts/firmware_cycles.py) for instructions/sample.
 */
#include "../plantar_fw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MSG PLANTAR_DATA_MAX_BYTES(PLANTAR_PROTOCOL_MAX_SENSELS, PLANTAR_PROTOCOL_MAX_SHEAR)
#define MAX_FRAMED PLANTAR_FRAMED_MAX_BYTES(MAX_MSG)

static uint8_t *read_all(FILE *f, size_t *n) {
    size_t cap = 1u << 16, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf) exit(2);
    for (;;) {
        if (len == cap) {
            cap *= 2;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) exit(2);
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0) break;
        len += got;
    }
    *n = len;
    return buf;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | ((uint64_t)rd32(p + 4) << 32); }
static void wr16(uint16_t v) {
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    fwrite(b, 1, 2, stdout);
}
static void wr32(uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, stdout);
}

static uint16_t counts[PLANTAR_PROTOCOL_MAX_SENSELS];
static int16_t shear[3 * PLANTAR_PROTOCOL_MAX_SHEAR];
static uint8_t msg[MAX_MSG];
static uint8_t framed[MAX_FRAMED];

static int mode_encode(void) {
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    size_t i = 0;
    while (i + 20 <= n) {
        const uint8_t *r = in + i;
        const int encoding = r[0] == 255 ? PLANTAR_ENC_AUTO : r[0];
        const uint16_t ns = rd16(r + 16);
        const uint8_t nk = r[18];
        i += 19;
        if (i + 2u * ns + 6u * nk > n) return 3;
        for (uint32_t s = 0; s < ns; s++) counts[s] = rd16(in + i + 2 * s);
        i += 2u * ns;
        for (uint32_t s = 0; s < 3u * nk; s++) shear[s] = (int16_t)rd16(in + i + 2 * s);
        i += 6u * nk;
        int32_t len = plantar_encode_data(rd16(r + 2), r[1], rd32(r + 4), rd64(r + 8), counts, ns,
                                          nk ? shear : NULL, nk, encoding, msg, sizeof msg);
        if (len >= 0) len = plantar_frame(msg, (size_t)len, framed, sizeof framed);
        wr32((uint32_t)len);
        if (len > 0) fwrite(framed, 1, (size_t)len, stdout);
    }
    free(in);
    return i == n ? 0 : 3;
}

static int emit_notification(void *ctx, const uint8_t *value, size_t n) {
    (void)ctx;
    wr16((uint16_t)n);
    fwrite(value, 1, n, stdout);
    return 0;
}

static int mode_pack(int mtu, int start) {
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    plantar_packer p;
    if (plantar_packer_init(&p, (uint16_t)mtu, (uint8_t)start, emit_notification, NULL) != 0)
        return 3;
    size_t i = 0;
    while (i < n) { /* one frame per push, as a device writes them */
        const uint8_t *z = memchr(in + i, 0, n - i);
        const size_t len = z ? (size_t)(z - (in + i)) + 1u : n - i;
        plantar_packer_push(&p, in + i, len);
        i += len;
    }
    plantar_packer_flush(&p);
    free(in);
    return 0;
}

static int mode_segments(void) {
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    size_t i = 0;
    while (i + 4 <= n) {
        const uint32_t len = rd32(in + i);
        i += 4;
        if (i + len > n) return 3;
        /* exact-size copy so ASan/valgrind see any read past the segment */
        uint8_t *seg = malloc(len ? len : 1);
        uint8_t *out = malloc(len ? len : 1);
        if (!seg || !out) return 2;
        memcpy(seg, in + i, len);
        i += len;
        const int32_t got = plantar_cobs_decode(seg, len, out, len);
        wr32((uint32_t)got);
        uint8_t command = 0;
        uint16_t argument = 0;
        int32_t rc = PLANTAR_ERR_COBS;
        if (got >= 0) {
            fwrite(out, 1, (size_t)got, stdout);
            rc = plantar_decode_control(out, (size_t)got, &command, &argument);
        }
        wr32((uint32_t)rc);
        fwrite(&command, 1, 1, stdout);
        wr16(argument);
        free(seg);
        free(out);
    }
    free(in);
    return 0;
}

static int mode_rx(void) {
    size_t n;
    uint8_t *in = read_all(stdin, &n);
    plantar_rx rx;
    plantar_rx_init(&rx);
    for (size_t i = 0; i < n; i++) {
        uint8_t command;
        uint16_t argument;
        if (plantar_rx_byte(&rx, in[i], &command, &argument)) {
            fwrite(&command, 1, 1, stdout);
            wr16(argument);
        }
    }
    wr32(rx.frames);
    wr32(rx.rejected);
    free(in);
    return 0;
}

/* ------------------------------------------------------------- synthetic device */

#define ROWS 16
#define COLS 16
typedef struct {
    uint32_t rng;
    uint16_t row;
    uint32_t scan;
    int loaded; /* stance: ~half the sensels above tare */
} fake_adc;

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}
static void fake_select_row(void *ctx, uint16_t row) { ((fake_adc *)ctx)->row = row; }
static uint16_t fake_read_column(void *ctx, uint16_t col) {
    fake_adc *a = ctx;
    const uint32_t base = 100u + (uint32_t)(a->row * 7u + col * 3u) % 50u; /* per-cell tare */
    uint32_t v = base + lcg(&a->rng) % 3u;                                   /* noise */
    if (a->loaded && (lcg(&a->rng) & 1u)) v += lcg(&a->rng) % 3800u;
    return (uint16_t)v;
}
static void fake_read_shear(void *ctx, int16_t *out, uint8_t k) {
    fake_adc *a = ctx;
    for (uint32_t i = 0; i < 3u * k; i++) out[i] = (int16_t)(lcg(&a->rng) & 0xFFFFu);
}
static void fake_scan_done(void *ctx) { ((fake_adc *)ctx)->scan++; }

static void fake_read_row(void *ctx, uint16_t row, uint16_t *out, uint16_t n_cols) {
    for (uint16_t c = 0; c < n_cols; c++) out[c] = fake_read_column(ctx, c);
    (void)row;
}

static int mode_device(long n_samples, int mtu, int by_row) {
    static plantar_dev dev;
    static int16_t map[ROWS * COLS];
    plantar_packer packer;
    fake_adc adc_state = {12345u, 0, 0, 0};
    for (int i = 0; i < ROWS * COLS; i++) map[i] = (int16_t)((i * 37) % (ROWS * COLS)); /* wiring */
    map[5] = -1; /* one unused cell: 255 sensels */
    for (int i = 0; i < ROWS * COLS; i++)
        if (map[i] == ROWS * COLS - 1) map[i] = (int16_t)((5 * 37) % (ROWS * COLS));
    plantar_config cfg = {0};
    cfg.device_id = 0x0102;
    cfg.foot = 1;
    cfg.n_rows = ROWS;
    cfg.n_cols = COLS;
    cfg.sensel_of_cell = map;
    cfg.n_sensels = ROWS * COLS - 1;
    cfg.n_shear = 5;
    cfg.rate_hz = 200;
    cfg.min_rate_hz = 50;
    cfg.max_rate_hz = 500;
    cfg.threshold_counts = 4;
    cfg.encoding = PLANTAR_ENC_AUTO;
    cfg.firmware_version = "plantar-host 1";
    cfg.layout_id = "host-16x16";
    cfg.calibration_id = "none";
    plantar_adc adc = {0};
    adc.ctx = &adc_state;
    adc.select_row = fake_select_row;
    if (by_row) adc.read_row = fake_read_row;
    else adc.read_column = fake_read_column;
    adc.read_shear = fake_read_shear;
    adc.scan_done = fake_scan_done;
    if (plantar_packer_init(&packer, (uint16_t)mtu, 200, emit_notification, NULL) != 0) return 3;
    if (plantar_dev_init(&dev, &cfg, &adc, plantar_packer_write, &packer) != 0) return 3;
    plantar_dev_tare(&dev, 8);
    dev.seq = 0xFFFFFFF0u; /* exercise the wrap */
    uint8_t ctl[PLANTAR_CONTROL_BYTES], ctl_framed[16];
    uint64_t now = 1000000u;
    long taken = 0;
    int phase = 0;
    while (taken < n_samples) {
        if (taken == 0 && phase == 0) { /* START over "serial" */
            plantar_encode_control(PLANTAR_CMD_START, 0, ctl);
            const int32_t k = plantar_frame(ctl, sizeof ctl, ctl_framed, sizeof ctl_framed);
            plantar_dev_rx(&dev, ctl_framed, (size_t)k, now);
            phase = 1;
        }
        if (taken == n_samples / 2 && phase == 1) { /* SET_RATE 250 over "BLE" */
            plantar_encode_control(PLANTAR_CMD_SET_RATE, 250, ctl);
            plantar_dev_control(&dev, ctl, sizeof ctl, now);
            plantar_encode_control(0x7F, 9, ctl); /* unknown command: ACK status 1 */
            plantar_dev_control(&dev, ctl, sizeof ctl, now);
            phase = 2;
        }
        adc_state.loaded = (taken / 40) % 2 == 0;
        now += 1000u + (lcg(&adc_state.rng) % 400u);
        if (taken == 77) now += 20000u; /* a stall: overruns, no burst */
        taken += plantar_dev_poll(&dev, now);
        if (taken % 3 == 0) plantar_packer_flush(&packer);
    }
    plantar_packer_flush(&packer);
    return dev.overruns > 0 ? 0 : 4;
}

/* ------------------------------------------------------------------------ bench */

static int bench_notify(void *ctx, const uint8_t *value, size_t n) {
    (void)value;
    *(size_t *)ctx += n;
    return 0;
}

/* Separate non-static functions so callgrind reports each stage inclusively. */
size_t bench_encode(const uint16_t *frames, const int16_t *sh, uint32_t n_frames, uint16_t ns,
                    uint8_t nk, uint8_t *msgs, int32_t *lens) {
    size_t total = 0;
    const size_t stride = PLANTAR_DATA_MAX_BYTES(ns, nk);
    for (uint32_t f = 0; f < n_frames; f++) {
        lens[f] = plantar_encode_data(1, 0, f, 5000u * (uint64_t)f, frames + (size_t)f * ns, ns,
                                      nk ? sh + (size_t)f * 3u * nk : NULL, nk, PLANTAR_ENC_AUTO,
                                      msgs + f * stride, stride);
        total += (size_t)lens[f];
    }
    return total;
}

size_t bench_frame(const uint8_t *msgs, const int32_t *lens, uint32_t n_frames, size_t stride,
                   uint8_t *out, int32_t *out_lens) {
    size_t total = 0;
    const size_t fstride = PLANTAR_FRAMED_MAX_BYTES(stride);
    for (uint32_t f = 0; f < n_frames; f++) {
        out_lens[f] = plantar_frame(msgs + f * stride, (size_t)lens[f], out + f * fstride, fstride);
        total += (size_t)out_lens[f];
    }
    return total;
}

size_t bench_pack(const uint8_t *frames_out, const int32_t *lens, uint32_t n_frames,
                  size_t fstride) {
    size_t sent = 0;
    plantar_packer p;
    plantar_packer_init(&p, 247, 0, bench_notify, &sent);
    for (uint32_t f = 0; f < n_frames; f++) {
        plantar_packer_push(&p, frames_out + f * fstride, (size_t)lens[f]);
        if (f % 2 == 1) plantar_packer_flush(&p); /* two samples per connection event */
    }
    plantar_packer_flush(&p);
    return sent;
}

uint32_t bench_crc(const uint8_t *msgs, const int32_t *lens, uint32_t n_frames, size_t stride) {
    uint32_t acc = 0;
    for (uint32_t f = 0; f < n_frames; f++) {
        acc ^= plantar_crc32(msgs + f * stride, (size_t)lens[f]);
    }
    return acc;
}

typedef struct {
    const uint16_t *frame;
    const int16_t *shear;
    uint16_t row;
    uint16_t n_sensels;
} table_adc;
static void table_select_row(void *ctx, uint16_t row) { ((table_adc *)ctx)->row = row; }
static void table_read_row(void *ctx, uint16_t row, uint16_t *out, uint16_t n_cols) {
    const table_adc *a = ctx;
    const uint32_t first = row * 16u, left = a->n_sensels - first;
    memcpy(out, a->frame + first, sizeof(uint16_t) * (left < n_cols ? left : n_cols));
}
static void table_read_shear(void *ctx, int16_t *out, uint8_t k) {
    memcpy(out, ((table_adc *)ctx)->shear, sizeof(int16_t) * 3u * k);
}

/* The whole per-sample path of a device: matrix scan through the adc callbacks (a
 * table stands in for the ADC), tare, encode, frame, BLE packer; INFO once a second. */
uint32_t bench_device(const uint16_t *frames, const int16_t *sh, uint32_t n_frames, uint16_t ns,
                      uint8_t nk) {
    static plantar_dev dev;
    static int16_t map[PLANTAR_PROTOCOL_MAX_SENSELS + 16];
    size_t sent = 0;
    plantar_packer p;
    table_adc a = {frames, sh, 0, ns};
    const uint16_t rows = (uint16_t)((ns + 15u) / 16u);
    for (uint32_t i = 0; i < rows * 16u; i++) map[i] = (int16_t)(i < ns ? (int32_t)i : -1);
    plantar_config cfg = {0};
    cfg.n_rows = rows;
    cfg.n_cols = 16;
    cfg.sensel_of_cell = map;
    cfg.n_sensels = ns;
    cfg.n_shear = nk;
    cfg.rate_hz = 200;
    cfg.min_rate_hz = 1;
    cfg.max_rate_hz = 1000;
    cfg.encoding = PLANTAR_ENC_AUTO;
    cfg.start_streaming = true;
    plantar_adc adc = {0};
    adc.ctx = &a;
    adc.select_row = table_select_row;
    adc.read_row = table_read_row; /* as an ADC scanning a row by DMA */
    adc.read_shear = table_read_shear;
    plantar_packer_init(&p, 247, 0, bench_notify, &sent);
    if (plantar_dev_init(&dev, &cfg, &adc, plantar_packer_write, &p) != 0) return 0;
    for (uint32_t f = 0; f < n_frames; f++) {
        a.frame = frames + (size_t)f * ns;
        a.shear = sh + (size_t)f * 3u * nk;
        plantar_dev_poll(&dev, 5000u * (uint64_t)f);
        if (f % 2 == 1) plantar_packer_flush(&p);
    }
    plantar_packer_flush(&p);
    return dev.samples;
}

static int mode_bench(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 3;
    size_t n;
    uint8_t *in = read_all(f, &n);
    fclose(f);
    if (n < 7) return 3;
    const uint16_t ns = rd16(in);
    const uint8_t nk = in[2];
    const uint32_t nf = rd32(in + 3);
    const size_t per = 2u * ns + 6u * nk;
    if (n != 7 + per * nf || ns == 0 || ns > PLANTAR_PROTOCOL_MAX_SENSELS) return 3;
    uint16_t *fr = malloc(sizeof(uint16_t) * ns * nf);
    int16_t *sh = malloc(sizeof(int16_t) * 3u * nk * nf + 1);
    const size_t stride = PLANTAR_DATA_MAX_BYTES(ns, nk);
    const size_t fstride = PLANTAR_FRAMED_MAX_BYTES(stride);
    uint8_t *msgs = malloc(stride * nf);
    uint8_t *outs = malloc(fstride * nf);
    int32_t *lens = malloc(sizeof(int32_t) * nf);
    int32_t *flens = malloc(sizeof(int32_t) * nf);
    if (!fr || !sh || !msgs || !outs || !lens || !flens) return 2;
    for (uint32_t k = 0; k < nf; k++) {
        const uint8_t *p = in + 7 + per * k;
        for (uint32_t s = 0; s < ns; s++) fr[(size_t)k * ns + s] = rd16(p + 2 * s);
        for (uint32_t s = 0; s < 3u * nk; s++)
            sh[(size_t)k * 3u * nk + s] = (int16_t)rd16(p + 2u * ns + 2 * s);
    }
    const size_t msg_bytes = bench_encode(fr, sh, nf, ns, nk, msgs, lens);
    const size_t framed_bytes = bench_frame(msgs, lens, nf, stride, outs, flens);
    const size_t notified = bench_pack(outs, flens, nf, fstride);
    const uint32_t crc = bench_crc(msgs, lens, nf, stride);
    const uint32_t samples = bench_device(fr, sh, nf, ns, nk);
    printf("frames %u message_bytes %zu framed_bytes %zu notified_bytes %zu crc_xor %08x "
           "device_samples %u\n",
           nf, msg_bytes, framed_bytes, notified, crc, samples);
    free(in);
    free(fr);
    free(sh);
    free(msgs);
    free(outs);
    free(lens);
    free(flens);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s encode|pack MTU START|segments|rx|device N MTU|bench FILE\n",
                argv[0]);
        return 2;
    }
    const char *m = argv[1];
    int rc;
    if (!strcmp(m, "encode")) rc = mode_encode();
    else if (!strcmp(m, "pack") && argc == 4) rc = mode_pack(atoi(argv[2]), atoi(argv[3]));
    else if (!strcmp(m, "segments")) rc = mode_segments();
    else if (!strcmp(m, "rx")) rc = mode_rx();
    else if (!strcmp(m, "device") && (argc == 4 || argc == 5))
        rc = mode_device(atol(argv[2]), atoi(argv[3]), argc == 5 && !strcmp(argv[4], "row"));
    else if (!strcmp(m, "bench") && argc == 3) rc = mode_bench(argv[2]);
    else rc = 2;
    fflush(stdout);
    return rc;
}
