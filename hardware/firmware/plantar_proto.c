/*
 * Plantar firmware core: CRC-32, COBS, DATA/INFO/ACK encoders, CONTROL decoder.
 * Protocol version 1, hardware/PROTOCOL.md. C99, no allocation, no state.
 */
#include "plantar_fw.h"

#include <string.h>

/* ------------------------------------------------------------------------ helpers */

static void put16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put64(uint8_t *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

#if defined(__GNUC__) || defined(__clang__)
#define PLANTAR_CTZ(x) ((unsigned)__builtin_ctz(x))
#else
static unsigned plantar_ctz(unsigned x) {
    unsigned n = 0;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
}
#define PLANTAR_CTZ(x) plantar_ctz(x)
#endif

/* Bits set in a byte. */
static const uint8_t POPCOUNT8[256] = {
#define B2(n) n, n + 1, n + 1, n + 2
#define B4(n) B2(n), B2(n + 1), B2(n + 1), B2(n + 2)
#define B6(n) B4(n), B4(n + 1), B4(n + 1), B4(n + 2)
    B6(0), B6(1), B6(1), B6(2)
#undef B2
#undef B4
#undef B6
};

/* -------------------------------------------------------------------------- CRC-32 */

#ifndef PLANTAR_CRC_BITWISE
static const uint32_t CRC32_TABLE[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t plantar_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = CRC32_TABLE[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
#else
uint32_t plantar_crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}
#endif

/* ---------------------------------------------------------------------------- COBS */

size_t plantar_cobs_encode(const uint8_t *in, size_t n, uint8_t *out) {
    size_t code_at = 0, o = 1;
    uint8_t code = 1;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
            continue;
        }
        out[o++] = in[i];
        if (++code == 0xFF) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        }
    }
    out[code_at] = code;
    return o;
}

int32_t plantar_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t out_cap) {
    size_t i = 0, o = 0;
    while (i < n) {
        size_t code = in[i];
        if (code == 0 || code > n - i) return PLANTAR_ERR_COBS;
        size_t len = code - 1;
        for (size_t k = 1; k <= len; k++) {
            if (in[i + k] == 0) return PLANTAR_ERR_COBS;
        }
        if (len > out_cap - o) return PLANTAR_ERR_BUFFER;
        memcpy(out + o, in + i + 1, len);
        o += len;
        i += code;
        if (code != 0xFF && i < n) {
            if (o >= out_cap) return PLANTAR_ERR_BUFFER;
            out[o++] = 0;
        }
    }
    if (o > 0x7FFFFFFFu) return PLANTAR_ERR_BUFFER;
    return (int32_t)o;
}

int32_t plantar_frame(const uint8_t *msg, size_t n, uint8_t *out, size_t out_cap) {
    if (out_cap < PLANTAR_FRAMED_MAX_BYTES(n)) return PLANTAR_ERR_BUFFER;
    size_t o = plantar_cobs_encode(msg, n, out);
    out[o++] = 0;
    return (int32_t)o;
}

/* ------------------------------------------------------------------------------ DATA */

/* 12-bit packing of a pair: v0, v1 -> 3 bytes (PROTOCOL.md 2.1). */
static uint8_t *pack12_pair(uint8_t *p, uint32_t v0, uint32_t v1) {
    p[0] = (uint8_t)v0;
    p[1] = (uint8_t)((v0 >> 8) | ((v1 & 0x0Fu) << 4));
    p[2] = (uint8_t)(v1 >> 4);
    return p + 3;
}

static uint8_t *pack12_last(uint8_t *p, uint32_t v0) {
    p[0] = (uint8_t)v0;
    p[1] = (uint8_t)(v0 >> 8);
    return p + 2;
}

int32_t plantar_encode_data(uint16_t device_id, uint8_t foot, uint32_t seq, uint64_t t_device_us,
                            const uint16_t *counts, uint16_t n_sensels, const int16_t *shear,
                            uint8_t n_shear, int encoding, uint8_t *out, size_t out_cap) {
    const uint32_t S = n_sensels;
    const uint32_t K = n_shear;
    if (!counts || !out || S < 1 || S > PLANTAR_PROTOCOL_MAX_SENSELS ||
        K > PLANTAR_PROTOCOL_MAX_SHEAR || (K && !shear) || foot > 1 ||
        encoding < PLANTAR_ENC_AUTO || encoding > PLANTAR_ENC_SPARSE12)
        return PLANTAR_ERR_ARG;
    const uint32_t G = (S + 7u) / 8u;     /* groups of 8 sensels */
    const uint32_t GM = (G + 7u) / 8u;    /* bytes of the group mask */
    if (out_cap < PLANTAR_DATA_HEADER_BYTES + GM + G + 6u * K + PLANTAR_CRC_BYTES)
        return PLANTAR_ERR_BUFFER;

    /* Pass 1: the sparse group mask and sensel masks, written in place (they are the
     * start of a sparse payload; a dense payload overwrites them), Z and the OR of all
     * values (12-bit packing needs every value <= 4095). */
    uint8_t *pay = out + PLANTAR_DATA_HEADER_BYTES;
    memset(pay, 0, GM);
    uint8_t *mp = pay + GM;
    uint32_t z = 0, orv = 0;
    const uint32_t full = S / 8u;
    const uint16_t *c = counts;
    for (uint32_t g = 0; g < full; g++, c += 8) {
        const uint32_t v0 = c[0], v1 = c[1], v2 = c[2], v3 = c[3];
        const uint32_t v4 = c[4], v5 = c[5], v6 = c[6], v7 = c[7];
        orv |= v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7;
        const uint32_t m = (uint32_t)(v0 != 0) | ((uint32_t)(v1 != 0) << 1) |
                           ((uint32_t)(v2 != 0) << 2) | ((uint32_t)(v3 != 0) << 3) |
                           ((uint32_t)(v4 != 0) << 4) | ((uint32_t)(v5 != 0) << 5) |
                           ((uint32_t)(v6 != 0) << 6) | ((uint32_t)(v7 != 0) << 7);
        if (m) {
            *mp++ = (uint8_t)m;
            pay[g >> 3] |= (uint8_t)(1u << (g & 7u));
            z += POPCOUNT8[m];
        }
    }
    if (S & 7u) {
        uint32_t m = 0;
        for (uint32_t j = 0; j < (S & 7u); j++) {
            orv |= c[j];
            m |= (uint32_t)(c[j] != 0) << j;
        }
        if (m) {
            *mp++ = (uint8_t)m;
            pay[full >> 3] |= (uint8_t)(1u << (full & 7u));
            z += POPCOUNT8[m];
        }
    }
    const uint32_t P = (uint32_t)(mp - (pay + GM));
    const bool fits12 = orv <= PLANTAR_MAX_12BIT_COUNTS;

    /* Choose: the smallest payload, ties to the lower encoding value. */
    uint32_t size[4];
    size[PLANTAR_ENC_DENSE16] = 2u * S;
    size[PLANTAR_ENC_SPARSE16] = GM + P + 2u * z;
    size[PLANTAR_ENC_DENSE12] = (3u * S + 1u) / 2u;
    size[PLANTAR_ENC_SPARSE12] = GM + P + (3u * z + 1u) / 2u;
    int enc = encoding;
    if (enc == PLANTAR_ENC_AUTO) {
        enc = PLANTAR_ENC_DENSE16;
        const int last = fits12 ? PLANTAR_ENC_SPARSE12 : PLANTAR_ENC_SPARSE16;
        for (int e = PLANTAR_ENC_SPARSE16; e <= last; e++)
            if (size[e] < size[enc]) enc = e;
    } else if (enc >= PLANTAR_ENC_DENSE12 && !fits12) {
        return PLANTAR_ERR_RANGE;
    } else if (enc == PLANTAR_ENC_SPARSE16 && size[enc] > size[PLANTAR_ENC_DENSE16]) {
        /* PROTOCOL.md 2.1: a sparse payload is never larger than dense u16. */
        enc = PLANTAR_ENC_DENSE16;
    }
    const uint32_t total =
        PLANTAR_DATA_HEADER_BYTES + size[enc] + 6u * K + PLANTAR_CRC_BYTES;
    if (total > PLANTAR_PROTOCOL_MAX_MESSAGE_BYTES) return PLANTAR_ERR_TOO_LARGE;
    if (total > out_cap) return PLANTAR_ERR_BUFFER;

    /* Pass 2: the payload. */
    uint8_t *p = pay;
    switch (enc) {
    case PLANTAR_ENC_DENSE16:
        for (uint32_t i = 0; i < S; i++, p += 2) put16(p, counts[i]);
        break;
    case PLANTAR_ENC_DENSE12: {
        uint32_t i = 0;
        for (; i + 1u < S; i += 2u) p = pack12_pair(p, counts[i], counts[i + 1u]);
        if (i < S) p = pack12_last(p, counts[i]);
        break;
    }
    default: { /* sparse: masks are in place; append the nonzero values */
        const uint8_t *masks = pay + GM;
        p = pay + GM + P;
        uint32_t held = 0;
        bool have = false;
        for (uint32_t g = 0; g < G; g++) {
            if (!((pay[g >> 3] >> (g & 7u)) & 1u)) continue;
            uint32_t m = *masks++;
            const uint16_t *base = counts + 8u * g;
            if (enc == PLANTAR_ENC_SPARSE16) {
                while (m) {
                    put16(p, base[PLANTAR_CTZ(m)]);
                    p += 2;
                    m &= m - 1u;
                }
            } else {
                while (m) {
                    const uint32_t v = base[PLANTAR_CTZ(m)];
                    m &= m - 1u;
                    if (have) p = pack12_pair(p, held, v);
                    else held = v;
                    have = !have;
                }
            }
        }
        if (have) p = pack12_last(p, held);
        break;
    }
    }
    for (uint32_t i = 0; i < 3u * K; i++, p += 2) put16(p, (uint16_t)shear[i]);

    out[0] = PLANTAR_MSG_DATA;
    out[1] = PLANTAR_PROTOCOL_VERSION;
    out[2] = (uint8_t)(foot | ((unsigned)enc << 1));
    put16(out + 3, device_id);
    put32(out + 5, seq);
    put64(out + 9, t_device_us);
    put16(out + 17, (uint16_t)S);
    out[19] = (uint8_t)K;
    put32(p, plantar_crc32(out, total - PLANTAR_CRC_BYTES));
    return (int32_t)total;
}

/* ----------------------------------------------------------------- INFO, ACK, CONTROL */

static void put_str(uint8_t *p, const char *s, size_t len) {
    size_t i = 0;
    if (s)
        for (; i < len && s[i]; i++) p[i] = (uint8_t)s[i];
    for (; i < len; i++) p[i] = 0;
}

int32_t plantar_encode_info(const plantar_info *info, uint8_t out[PLANTAR_INFO_BYTES]) {
    if (!info || !out || info->foot > 1) return PLANTAR_ERR_ARG;
    out[0] = PLANTAR_MSG_INFO;
    out[1] = PLANTAR_PROTOCOL_VERSION;
    out[2] = info->foot;
    put16(out + 3, info->device_id);
    put16(out + 5, info->sampling_rate_hz);
    put16(out + 7, info->n_sensels);
    out[9] = info->n_shear;
    put_str(out + 10, info->firmware_version, 16);
    put_str(out + 26, info->layout_id, 24);
    put_str(out + 50, info->calibration_id, 24);
    put32(out + 74, plantar_crc32(out, 74));
    return (int32_t)PLANTAR_INFO_BYTES;
}

int32_t plantar_encode_ack(uint8_t command, uint8_t status, uint16_t argument,
                           uint8_t out[PLANTAR_ACK_BYTES]) {
    out[0] = PLANTAR_MSG_ACK;
    out[1] = PLANTAR_PROTOCOL_VERSION;
    out[2] = command;
    out[3] = status;
    put16(out + 4, argument);
    put32(out + 6, plantar_crc32(out, 6));
    return (int32_t)PLANTAR_ACK_BYTES;
}

int32_t plantar_encode_control(uint8_t command, uint16_t argument,
                               uint8_t out[PLANTAR_CONTROL_BYTES]) {
    out[0] = PLANTAR_MSG_CONTROL;
    out[1] = PLANTAR_PROTOCOL_VERSION;
    out[2] = command;
    put16(out + 3, argument);
    put32(out + 5, plantar_crc32(out, 5));
    return (int32_t)PLANTAR_CONTROL_BYTES;
}

int32_t plantar_decode_control(const uint8_t *msg, size_t n, uint8_t *command,
                               uint16_t *argument) {
    /* Order of checks as PROTOCOL.md section 9: length >= 6, CRC, type, version, size. */
    if (!msg || n < 6) return PLANTAR_ERR_TOO_SHORT;
    if (plantar_crc32(msg, n - 4) != get32(msg + n - 4)) return PLANTAR_ERR_CRC;
    if (msg[0] != PLANTAR_MSG_CONTROL) return PLANTAR_ERR_TYPE;
    if (msg[1] != PLANTAR_PROTOCOL_VERSION) return PLANTAR_ERR_VERSION;
    if (n != PLANTAR_CONTROL_BYTES) return PLANTAR_ERR_LENGTH;
    if (command) *command = msg[2];
    if (argument) *argument = get16(msg + 3);
    return 0;
}

/* ------------------------------------------------------------------- CONTROL receiver */

void plantar_rx_init(plantar_rx *rx) { memset(rx, 0, sizeof *rx); }

int plantar_rx_byte(plantar_rx *rx, uint8_t byte, uint8_t *command, uint16_t *argument) {
    if (byte != 0) {
        if (rx->len < PLANTAR_RX_BYTES) rx->buf[rx->len++] = byte;
        else rx->overflow = true;
        return 0;
    }
    const uint16_t len = rx->len;
    const bool overflow = rx->overflow;
    rx->len = 0;
    rx->overflow = false;
    if (len == 0 && !overflow) return 0; /* idle fill */
    rx->frames++;
    uint8_t msg[PLANTAR_RX_BYTES];
    int32_t n = overflow ? PLANTAR_ERR_BUFFER : plantar_cobs_decode(rx->buf, len, msg, sizeof msg);
    if (n < 0 || plantar_decode_control(msg, (size_t)n, command, argument) != 0) {
        rx->rejected++;
        return 0;
    }
    return 1;
}
