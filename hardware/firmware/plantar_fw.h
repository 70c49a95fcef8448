/*
 * Plantar reference firmware core: wire protocol version 1 (hardware/PROTOCOL.md).
 *
 * Portable C99. No dynamic allocation, no vendor SDK, no globals with state: every
 * piece of state lives in a struct the caller owns (usually one static plantar_dev).
 * Board glue supplies three things (see README.md in this directory):
 *   - an ADC/multiplexer interface (plantar_adc: select a row, read a column),
 *   - a writer for framed bytes (plantar_write_fn: a UART/USB write, or the BLE packer),
 *   - a microsecond clock passed to plantar_dev_poll().
 *
 * Modules:
 *   plantar_proto.c   CRC-32, COBS, DATA/INFO/ACK encoders, CONTROL decoder
 *   plantar_notify.c  packer of the framed stream into BLE notifications
 *   plantar_device.c  fixed-rate sampling over a multiplexed sensel matrix, tare,
 *                     sequence counter, CONTROL handling (START/STOP/SET_RATE/INFO)
 *
 * All functions returning int32_t return a byte count (>= 0) or a negative
 * PLANTAR_ERR_* code.
 */
#ifndef PLANTAR_FW_H
#define PLANTAR_FW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- compile-time sizes */

/* Largest sensel count a plantar_dev supports (protocol limit 4096). RAM of one
 * plantar_dev is about 11 * PLANTAR_MAX_SENSELS bytes; lower it for small MCUs. */
#ifndef PLANTAR_MAX_SENSELS
#define PLANTAR_MAX_SENSELS 1024
#endif
/* Largest shear-site count (protocol limit 32). */
#ifndef PLANTAR_MAX_SHEAR
#define PLANTAR_MAX_SHEAR 32
#endif
/* Largest ATT_MTU the notification packer supports (BLE maximum 517). */
#ifndef PLANTAR_MAX_ATT_MTU
#define PLANTAR_MAX_ATT_MTU 517
#endif
/* Largest column count of the sensel matrix (one row of raw readings is buffered). */
#ifndef PLANTAR_MAX_COLS
#define PLANTAR_MAX_COLS 64
#endif
/* Bytes of one received COBS frame kept by the CONTROL receiver (a CONTROL frame is 10). */
#ifndef PLANTAR_RX_BYTES
#define PLANTAR_RX_BYTES 32
#endif

/* ------------------------------------------------------------------ protocol numbers */

#define PLANTAR_PROTOCOL_VERSION 1u
#define PLANTAR_PROTOCOL_MAX_SENSELS 4096u
#define PLANTAR_PROTOCOL_MAX_SHEAR 32u
#define PLANTAR_MAX_12BIT_COUNTS 4095u

enum plantar_msg_type {
    PLANTAR_MSG_DATA = 0x01,
    PLANTAR_MSG_INFO = 0x02,
    PLANTAR_MSG_CONTROL = 0x03,
    PLANTAR_MSG_ACK = 0x04
};

/* Pressure encodings (DATA flags bits 1-2); PLANTAR_ENC_AUTO picks the smallest. */
enum plantar_encoding {
    PLANTAR_ENC_AUTO = -1,
    PLANTAR_ENC_DENSE16 = 0,
    PLANTAR_ENC_SPARSE16 = 1,
    PLANTAR_ENC_DENSE12 = 2,
    PLANTAR_ENC_SPARSE12 = 3
};

enum plantar_command {
    PLANTAR_CMD_START = 0x01,
    PLANTAR_CMD_STOP = 0x02,
    PLANTAR_CMD_SET_RATE = 0x03,
    PLANTAR_CMD_REQUEST_INFO = 0x04
};

enum plantar_ack_status {
    PLANTAR_ACK_OK = 0,
    PLANTAR_ACK_UNKNOWN_COMMAND = 1,
    PLANTAR_ACK_BAD_ARGUMENT = 2,
    PLANTAR_ACK_BUSY = 3
};

enum plantar_error {
    PLANTAR_ERR_ARG = -1,          /* argument out of range (n_sensels, n_shear, foot...) */
    PLANTAR_ERR_BUFFER = -2,       /* output buffer too small */
    PLANTAR_ERR_RANGE = -3,        /* 12-bit encoding asked for with a count > 4095 */
    PLANTAR_ERR_TOO_LARGE = -4,    /* message longer than protocol v1's largest (8408) */
    PLANTAR_ERR_COBS = -5,         /* invalid COBS block sequence */
    PLANTAR_ERR_TOO_SHORT = -6,    /* received message shorter than 6 bytes */
    PLANTAR_ERR_CRC = -7,          /* CRC-32 mismatch */
    PLANTAR_ERR_TYPE = -8,         /* not the expected message type */
    PLANTAR_ERR_VERSION = -9,      /* protocol_version != 1 */
    PLANTAR_ERR_LENGTH = -10,      /* size disagrees with the message type */
    PLANTAR_ERR_STATE = -11        /* call not valid in this state */
};

#define PLANTAR_DATA_HEADER_BYTES 20u
#define PLANTAR_CRC_BYTES 4u
#define PLANTAR_INFO_BYTES 78u
#define PLANTAR_CONTROL_BYTES 9u
#define PLANTAR_ACK_BYTES 10u
/* Largest valid v1 message (4096 sensels dense u16 + 32 shear sites) and its framing. */
#define PLANTAR_PROTOCOL_MAX_MESSAGE_BYTES 8408u

/* Bytes of COBS for an n-byte message (without / with the 0x00 delimiter). */
#define PLANTAR_COBS_MAX_BYTES(n) ((n) + (n) / 254u + 1u)
#define PLANTAR_FRAMED_MAX_BYTES(n) (PLANTAR_COBS_MAX_BYTES(n) + 1u)
/* Buffer that holds any DATA message the encoder may write for S sensels, K sites
 * (covers the sparse masks written while choosing an encoding). */
#define PLANTAR_DATA_MAX_BYTES(S, K) \
    (PLANTAR_DATA_HEADER_BYTES + 2u * (S) + ((S) + 7u) / 8u + ((S) + 63u) / 64u + \
     6u * (K) + PLANTAR_CRC_BYTES)

/* ------------------------------------------------------------------ CRC-32 and COBS */

/* CRC-32/ISO-HDLC (zlib, Ethernet) of n bytes. Table-driven (1 KiB const table);
 * compile with -DPLANTAR_CRC_BITWISE for the table-free bitwise loop. */
uint32_t plantar_crc32(const uint8_t *p, size_t n);

/* COBS-encode n bytes into out (capacity PLANTAR_COBS_MAX_BYTES(n)); no delimiter.
 * Returns the encoded length. in and out must not overlap. */
size_t plantar_cobs_encode(const uint8_t *in, size_t n, uint8_t *out);

/* Decode one COBS block sequence (no delimiter) into out; returns the decoded length,
 * PLANTAR_ERR_COBS or PLANTAR_ERR_BUFFER. Accepts a final 0x01 after a 0xFF block. */
int32_t plantar_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap);

/* COBS-encode a message and append the 0x00 delimiter: the bytes to send on a serial
 * link or into the BLE packer. out_cap >= PLANTAR_FRAMED_MAX_BYTES(n). */
int32_t plantar_frame(const uint8_t *msg, size_t n, uint8_t *out, size_t out_cap);

/* ------------------------------------------------------------------------ encoders */

/* One DATA message (unframed, CRC included) into out.
 *   counts:  n_sensels ADC counts after tare (1 <= n_sensels <= 4096)
 *   shear:   3 * n_shear values tx, ty, n (0.01 kPa), or NULL when n_shear == 0
 *   encoding: PLANTAR_ENC_AUTO (smallest, ties to the lower value, as the Python
 *            reference encoder) or one of the four encodings; PLANTAR_ENC_SPARSE16 is
 *            sent as dense u16 when that is smaller (PROTOCOL.md 2.1).
 * out_cap must be >= PLANTAR_DATA_MAX_BYTES(n_sensels, n_shear).
 * Returns the message length or an error (ERR_ARG, ERR_BUFFER, ERR_RANGE, ERR_TOO_LARGE). */
int32_t plantar_encode_data(uint16_t device_id, uint8_t foot, uint32_t seq, uint64_t t_device_us,
                            const uint16_t *counts, uint16_t n_sensels, const int16_t *shear,
                            uint8_t n_shear, int encoding, uint8_t *out, size_t out_cap);

typedef struct {
    uint16_t device_id;
    uint8_t foot; /* 0 left, 1 right */
    uint16_t sampling_rate_hz;
    uint16_t n_sensels;
    uint8_t n_shear;
    const char *firmware_version; /* <= 16 bytes UTF-8 (truncated if longer) */
    const char *layout_id;        /* <= 24 bytes */
    const char *calibration_id;   /* <= 24 bytes */
} plantar_info;

/* The 78-byte INFO message (also the INFO characteristic value). Returns 78 or ERR_ARG. */
int32_t plantar_encode_info(const plantar_info *info, uint8_t out[PLANTAR_INFO_BYTES]);

/* The 10-byte ACK message. Returns 10. */
int32_t plantar_encode_ack(uint8_t command, uint8_t status, uint16_t argument,
                           uint8_t out[PLANTAR_ACK_BYTES]);

/* The 9-byte CONTROL message (host side; used by tests). Returns 9. */
int32_t plantar_encode_control(uint8_t command, uint16_t argument,
                               uint8_t out[PLANTAR_CONTROL_BYTES]);

/* Decode one unframed CONTROL message. On success (0) *command is the command byte,
 * which may be unknown: PROTOCOL.md section 8 asks for an ACK with status
 * UNKNOWN_COMMAND then. Errors: ERR_TOO_SHORT, ERR_TYPE, ERR_LENGTH, ERR_CRC, ERR_VERSION. */
int32_t plantar_decode_control(const uint8_t *msg, size_t n, uint8_t *command,
                               uint16_t *argument);

/* ------------------------------------------------------------ CONTROL frame receiver */

/* Collects 0x00-delimited COBS frames from a byte stream (serial RX). Frames longer
 * than PLANTAR_RX_BYTES are skipped up to the next 0x00. */
typedef struct {
    uint8_t buf[PLANTAR_RX_BYTES];
    uint16_t len;
    bool overflow;
    uint32_t frames;    /* 0x00-terminated non-empty frames seen */
    uint32_t rejected;  /* frames that were not a valid CONTROL message */
} plantar_rx;

void plantar_rx_init(plantar_rx *rx);

/* Push one received byte. Returns 1 when it completes a valid CONTROL message
 * (*command, *argument set), 0 otherwise. */
int plantar_rx_byte(plantar_rx *rx, uint8_t byte, uint8_t *command, uint16_t *argument);

/* --------------------------------------------------------------- BLE notification packer */

/* Sends one notification value (counter byte + chunk). Return 0 when queued; any other
 * value counts the notification as dropped (the counter still advances, so the host
 * counts the loss as PROTOCOL.md section 5 expects). */
typedef int (*plantar_notify_fn)(void *ctx, const uint8_t *value, size_t n);

typedef struct {
    uint8_t value[PLANTAR_MAX_ATT_MTU - 3u]; /* [0] counter, then the chunk */
    uint16_t len;                            /* chunk bytes held in value[1..] */
    uint16_t capacity;                       /* ATT_MTU - 4 */
    uint8_t counter;                         /* counter of the next notification */
    plantar_notify_fn notify;
    void *ctx;
    uint32_t sent;
    uint32_t dropped;
} plantar_packer;

/* att_mtu: negotiated ATT_MTU, 23 .. PLANTAR_MAX_ATT_MTU. Returns 0 or ERR_ARG. */
int32_t plantar_packer_init(plantar_packer *p, uint16_t att_mtu, uint8_t start_counter,
                            plantar_notify_fn notify, void *ctx);
/* New MTU after an exchange: flushes what is held first. */
int32_t plantar_packer_set_mtu(plantar_packer *p, uint16_t att_mtu);
/* Add framed stream bytes (one or more whole frames, each ending in 0x00). Whole frames
 * are packed while they fit; a frame that does not fit starts the next notification; a
 * frame longer than a notification fills it and continues (same as the Python
 * base.wire.ble_packing.pack_notifications). Full notifications are sent at once. */
void plantar_packer_push(plantar_packer *p, const uint8_t *framed, size_t n);
/* Send the partly filled notification, if any (call once per connection event or
 * every few samples). */
void plantar_packer_flush(plantar_packer *p);
/* plantar_write_fn adapter: ctx is a plantar_packer*. */
int plantar_packer_write(void *ctx, const uint8_t *framed, size_t n);

/* --------------------------------------------------------------------- the device */

/* The multiplexed sensel matrix, read by the board glue. */
typedef struct {
    void *ctx;
    /* Drive row `row` (all others inactive) and wait for it to settle. */
    void (*select_row)(void *ctx, uint16_t row);
    /* Route column `col` to the ADC, convert, return the raw reading (e.g. 0..4095).
     * Not called for unused cells. Either this or read_row must be set. */
    uint16_t (*read_column)(void *ctx, uint16_t col);
    /* Optional, preferred when the ADC can scan channels by DMA: raw readings of all
     * n_cols columns of the selected row into out[0..n_cols-1]. */
    void (*read_row)(void *ctx, uint16_t row, uint16_t *out, uint16_t n_cols);
    /* Optional (NULL: zeros): n_shear * 3 values tx, ty, n in 0.01 kPa. */
    void (*read_shear)(void *ctx, int16_t *out, uint8_t n_shear);
    /* Optional: called after the last row (e.g. to switch all rows off). */
    void (*scan_done)(void *ctx);
} plantar_adc;

/* Writes framed bytes (serial write, or plantar_packer_write). Return 0 on success;
 * nonzero counts a dropped message. */
typedef int (*plantar_write_fn)(void *ctx, const uint8_t *bytes, size_t n);

typedef struct {
    uint16_t device_id;
    uint8_t foot; /* 0 left, 1 right */
    uint16_t n_rows;
    uint16_t n_cols;
    /* n_rows * n_cols entries, row-major: sensel index (layout order) of the cell at
     * (row, col), or -1 for an unused cell (not read). Every sensel 0..n_sensels-1
     * must appear exactly once. */
    const int16_t *sensel_of_cell;
    uint16_t n_sensels;
    uint8_t n_shear;
    uint16_t rate_hz;     /* initial sampling rate */
    uint16_t min_rate_hz; /* SET_RATE is clamped to min..max */
    uint16_t max_rate_hz;
    uint16_t threshold_counts; /* readings <= tare + threshold send 0 */
    int encoding;              /* PLANTAR_ENC_AUTO (recommended) or a fixed encoding */
    bool start_streaming;      /* stream from power-up without waiting for START */
    const char *firmware_version;
    const char *layout_id;
    const char *calibration_id;
} plantar_config;

typedef struct {
    plantar_config cfg;
    plantar_adc adc;
    plantar_write_fn write;
    void *write_ctx;
    uint32_t seq;         /* sequence number of the next sample (+1 per sample, wraps) */
    uint32_t period_us;   /* 1e6 / rate, rounded */
    uint16_t rate_hz;
    bool streaming;
    bool info_due;        /* send INFO before the next DATA */
    bool scheduled;       /* next_due_us is valid */
    uint64_t next_due_us;
    uint64_t next_info_us;
    uint32_t samples;     /* samples taken */
    uint32_t overruns;    /* sampling slots skipped because poll came too late */
    uint32_t write_errors;
    uint16_t tare[PLANTAR_MAX_SENSELS];
    uint16_t counts[PLANTAR_MAX_SENSELS];
    uint16_t row_raw[PLANTAR_MAX_COLS];
    int16_t shear[3u * PLANTAR_MAX_SHEAR];
    union { /* the DATA message being sent; tare sums while plantar_dev_tare runs */
        uint8_t msg[PLANTAR_DATA_MAX_BYTES(PLANTAR_MAX_SENSELS, PLANTAR_MAX_SHEAR)];
        uint32_t tare_sum[PLANTAR_MAX_SENSELS];
    } work;
    uint8_t tx[PLANTAR_FRAMED_MAX_BYTES(
        PLANTAR_DATA_MAX_BYTES(PLANTAR_MAX_SENSELS, PLANTAR_MAX_SHEAR))];
    plantar_rx rx;
} plantar_dev;

/* Check cfg and set up d (tare all zero). Returns 0 or ERR_ARG. The config strings and
 * sensel_of_cell table must outlive d. */
int32_t plantar_dev_init(plantar_dev *d, const plantar_config *cfg, const plantar_adc *adc,
                         plantar_write_fn write, void *write_ctx);

/* Average n_scans unloaded scans into the tare (call with the insole unloaded). */
void plantar_dev_tare(plantar_dev *d, uint16_t n_scans);

/* Scan the matrix once into d->counts (tare and threshold applied) and d->shear. */
void plantar_dev_scan(plantar_dev *d);

/* Take one sample now: scan, encode with the next seq, frame, write (INFO first when
 * due). t_device_us: the clock at the start of the scan. Returns the framed DATA length
 * or an error. Use from a timer interrupt/task; plantar_dev_poll for a main loop. */
int32_t plantar_dev_sample(plantar_dev *d, uint64_t t_device_us);

/* Fixed-rate scheduler for a main loop: takes a sample when one is due at now_us
 * (monotonic µs). Slots missed by more than one period are skipped (counted in
 * overruns), never sampled in a burst. Returns 1 if a sample was taken, else 0. */
int plantar_dev_poll(plantar_dev *d, uint64_t now_us);

/* A CONTROL message received unframed (BLE CONTROL characteristic write). Answers with
 * an ACK (and INFO for START / REQUEST_INFO). now_us: current clock. Returns the ACK
 * status, or a negative error for a message that is not a valid CONTROL (no ACK). */
int32_t plantar_dev_control(plantar_dev *d, const uint8_t *msg, size_t n, uint64_t now_us);

/* Bytes received on a serial link (COBS-framed CONTROL messages). */
void plantar_dev_rx(plantar_dev *d, const uint8_t *bytes, size_t n, uint64_t now_us);

/* Send the INFO message now (also done at START, REQUEST_INFO, once per second). */
int32_t plantar_dev_send_info(plantar_dev *d);

/* Current sampling rate (Hz) and whether DATA is being sent. */
uint16_t plantar_dev_rate_hz(const plantar_dev *d);
bool plantar_dev_streaming(const plantar_dev *d);

#ifdef __cplusplus
}
#endif

#endif /* PLANTAR_FW_H */
