"""Numba kernels of the stream decoder: split on 0x00, COBS, CRC, parse, expand.

Pure functions on arrays: every output is an explicit array argument, the only globals
are integer constants, and the kernels never raise on bad input. A rejected frame is
counted in ``counters`` under one reason (see the ``C_*`` indices) and decoding goes on
at the next 0x00 delimiter.
"""

from __future__ import annotations

import numpy as np

from base.kernels import njit

# counters[] indices (DecoderStats field order)
C_FRAMES_OK = 0
C_MESSAGES_OK = 1
C_CRC = 2
C_TOO_SHORT = 3
C_BAD_TYPE = 4
C_BAD_VERSION = 5
C_BAD_FLAGS = 6
C_LENGTH = 7
C_BAD_PAYLOAD = 8
C_OVERSIZE = 9
C_COBS = 10
C_LAYOUT = 11
C_RESYNC = 12
C_EMPTY = 13
C_BYTES_DISCARDED = 14
C_LAST_MISMATCH_N_SENSELS = 15
C_LAST_MISMATCH_N_SHEAR = 16
N_COUNTERS = 17

# kernel-private copies of protocol constants (kept literal so numba freezes them)
_VERSION = 1
_T_DATA = 1
_T_INFO = 2
_T_CONTROL = 3
_T_ACK = 4
_INFO_SIZE = 78
_CONTROL_SIZE = 9
_ACK_SIZE = 10
_HDR = 20
_OK_DATA = -1
_OK_MESSAGE = -2


@njit(cache=True, inline="always")
def _u16(b: np.ndarray, i: int) -> int:
    return np.int64(b[i]) | (np.int64(b[i + 1]) << 8)


@njit(cache=True, inline="always")
def _u32(b: np.ndarray, i: int) -> int:
    return _u16(b, i) | (_u16(b, i + 2) << 16)


@njit(cache=True, inline="always")
def _popcount8(x: int) -> int:
    x = x - ((x >> 1) & 0x55)
    x = (x & 0x33) + ((x >> 2) & 0x33)
    return (x + (x >> 4)) & 0x0F


@njit(cache=True)
def crc32_kernel(b: np.ndarray, start: int, end: int, tables: np.ndarray) -> int:
    """CRC-32 (zlib) of ``b[start:end]`` with slicing-by-4 ``tables`` (4, 256) uint32."""
    c = np.int64(0xFFFFFFFF)
    i = start
    t0 = tables[0]
    t1 = tables[1]
    t2 = tables[2]
    t3 = tables[3]
    while i + 4 <= end:
        c ^= _u32(b, i)
        c = (
            np.int64(t3[c & 0xFF])
            ^ np.int64(t2[(c >> 8) & 0xFF])
            ^ np.int64(t1[(c >> 16) & 0xFF])
            ^ np.int64(t0[(c >> 24) & 0xFF])
        )
        i += 4
    while i < end:
        c = np.int64(t0[(c ^ np.int64(b[i])) & 0xFF]) ^ (c >> 8)
        i += 1
    return c ^ 0xFFFFFFFF


@njit(cache=True)
def cobs_decode_kernel(buf: np.ndarray, start: int, end: int, out: np.ndarray) -> int:
    """COBS-decode ``buf[start:end]`` (no 0x00 inside) into ``out``.

    Returns the decoded length, or -1 if a block code points past ``end``.
    ``out`` must hold at least ``end - start`` bytes.
    """
    i = start
    m = 0
    while i < end:
        code = np.int64(buf[i])
        if i + code > end:
            return -1
        for j in range(i + 1, i + code):
            out[m] = buf[j]
            m += 1
        i += code
        if code != 0xFF and i < end:
            out[m] = 0
            m += 1
    return m


@njit(cache=True, inline="always")
def _get12(s: np.ndarray, base: int, k: int) -> int:
    off = base + ((3 * k) >> 1)
    if k & 1 == 0:
        return np.int64(s[off]) | ((np.int64(s[off + 1]) & 0x0F) << 8)
    return (np.int64(s[off]) >> 4) | (np.int64(s[off + 1]) << 4)


@njit(cache=True)
def parse_data_kernel(
    s: np.ndarray,
    m: int,
    n_sensels: int,
    n_shear: int,
    row: int,
    out_device_id: np.ndarray,
    out_foot: np.ndarray,
    out_seq: np.ndarray,
    out_t: np.ndarray,
    out_pressure: np.ndarray,
    out_shear: np.ndarray,
    counters: np.ndarray,
) -> int:
    """Parse a CRC-checked DATA message ``s[:m]`` into row ``row`` of the outputs.

    Returns ``_OK_DATA`` or the counter index of the rejection reason.
    """
    if m < _HDR + 4:
        return C_TOO_SHORT
    flags = np.int64(s[2])
    if flags & 0xF8:
        return C_BAD_FLAGS
    ns = _u16(s, 17)
    nk = np.int64(s[19])
    if ns != n_sensels or nk != n_shear:
        counters[C_LAST_MISMATCH_N_SENSELS] = ns
        counters[C_LAST_MISMATCH_N_SHEAR] = nk
        return C_LAYOUT
    encoding = (flags >> 1) & 3
    payload_end = m - 4 - 6 * nk
    if payload_end < _HDR:
        return C_LENGTH
    p = _HDR
    avail = payload_end - p
    if encoding == 0:
        if avail != 2 * ns:
            return C_LENGTH
        for i in range(ns):
            out_pressure[row, i] = _u16(s, p + 2 * i)
    elif encoding == 2:
        nbytes = (3 * ns + 1) // 2
        if avail != nbytes:
            return C_LENGTH
        if ns & 1 and (np.int64(s[p + nbytes - 1]) >> 4) != 0:
            return C_BAD_PAYLOAD
        for i in range(ns):
            out_pressure[row, i] = _get12(s, p, i)
    else:
        n_groups = (ns + 7) // 8
        gm_bytes = (n_groups + 7) // 8
        if avail < gm_bytes:
            return C_LENGTH
        if n_groups & 7 and (np.int64(s[p + gm_bytes - 1]) >> (n_groups & 7)) != 0:
            return C_BAD_PAYLOAD
        n_set = 0
        for i in range(gm_bytes):
            n_set += _popcount8(np.int64(s[p + i]))
        masks = p + gm_bytes
        if avail < gm_bytes + n_set:
            return C_LENGTH
        nz = 0
        for i in range(n_set):
            mb = np.int64(s[masks + i])
            if mb == 0:
                return C_BAD_PAYLOAD
            nz += _popcount8(mb)
        last_bits = ns - 8 * (n_groups - 1)
        last_present = (np.int64(s[p + (n_groups - 1) // 8]) >> ((n_groups - 1) & 7)) & 1
        # the last group, when present, owns the last mask byte: no bits past sensel S-1
        if last_bits < 8 and last_present and np.int64(s[masks + n_set - 1]) >> last_bits:
            return C_BAD_PAYLOAD
        values = masks + n_set
        packed = encoding == 3
        vbytes = (3 * nz + 1) // 2 if packed else 2 * nz
        if avail != gm_bytes + n_set + vbytes:
            return C_LENGTH
        if packed and nz & 1 and (np.int64(s[values + vbytes - 1]) >> 4) != 0:
            return C_BAD_PAYLOAD
        for i in range(ns):
            out_pressure[row, i] = 0
        k = 0
        mi = masks
        for g in range(n_groups):
            if (np.int64(s[p + (g >> 3)]) >> (g & 7)) & 1:
                mb = np.int64(s[mi])
                mi += 1
                base = 8 * g
                for j in range(8):
                    if (mb >> j) & 1:
                        v = _get12(s, values, k) if packed else _u16(s, values + 2 * k)
                        if v == 0:
                            return C_BAD_PAYLOAD
                        out_pressure[row, base + j] = v
                        k += 1
    q = payload_end
    for site in range(nk):
        for c in range(3):
            v = _u16(s, q)
            if v >= 32768:
                v -= 65536
            out_shear[row, site, c] = v
            q += 2
    out_device_id[row] = _u16(s, 3)
    out_foot[row] = flags & 1
    out_seq[row] = _u32(s, 5)
    out_t[row] = np.uint64(_u32(s, 9)) | (np.uint64(_u32(s, 13)) << np.uint64(32))
    return _OK_DATA


@njit(cache=True)
def decode_stream_kernel(
    buf: np.ndarray,
    start: int,
    lenient_first: bool,
    n_sensels: int,
    n_shear: int,
    max_encoded: int,
    scratch: np.ndarray,
    tables: np.ndarray,
    out_device_id: np.ndarray,
    out_foot: np.ndarray,
    out_seq: np.ndarray,
    out_t: np.ndarray,
    out_pressure: np.ndarray,
    out_shear: np.ndarray,
    msg_spans: np.ndarray,
    counters: np.ndarray,
) -> tuple[int, int, int]:
    """Decode every 0x00-terminated frame of ``buf[start:]``.

    DATA frames go to row ``n_frames`` of the ``out_*`` arrays (capacity must be at
    least the number of 0x00 bytes in ``buf[start:]``). Valid INFO/CONTROL/ACK frames
    are reported as ``(start, end)`` spans of their encoded bytes in ``msg_spans``
    (same capacity). With ``lenient_first`` the first frame is decoded if valid; if it
    fails COBS, length or CRC checks it is counted under ``C_RESYNC`` instead of its
    reason (a receiver joining mid-stream sees the end of a frame first).

    Returns
    -------
    (n_frames, n_messages, tail_start)
        ``buf[tail_start:]`` is the unterminated partial frame to keep for later.
    """
    n = buf.shape[0]
    pos = start
    nf = 0
    nm = 0
    first = lenient_first
    while True:
        z = pos
        while z < n and buf[z] != 0:
            z += 1
        if z >= n:
            break
        seg = z - pos
        if seg == 0:
            counters[C_EMPTY] += 1
            pos = z + 1
            first = False
            continue
        if seg > max_encoded:
            reason = C_OVERSIZE
        else:
            m = cobs_decode_kernel(buf, pos, z, scratch)
            if m < 0:
                reason = C_COBS
            elif m < 6:
                reason = C_TOO_SHORT
            elif crc32_kernel(scratch, 0, m - 4, tables) != _u32(scratch, m - 4):
                reason = C_CRC
            else:
                msg_type = np.int64(scratch[0])
                if msg_type < _T_DATA or msg_type > _T_ACK:
                    reason = C_BAD_TYPE
                elif scratch[1] != _VERSION:
                    reason = C_BAD_VERSION
                elif msg_type == _T_DATA:
                    reason = parse_data_kernel(
                        scratch,
                        m,
                        n_sensels,
                        n_shear,
                        nf,
                        out_device_id,
                        out_foot,
                        out_seq,
                        out_t,
                        out_pressure,
                        out_shear,
                        counters,
                    )
                else:
                    if msg_type == _T_INFO:
                        expected = _INFO_SIZE
                    elif msg_type == _T_CONTROL:
                        expected = _CONTROL_SIZE
                    else:
                        expected = _ACK_SIZE
                    reason = _OK_MESSAGE if m == expected else C_LENGTH
        if reason == _OK_DATA:
            nf += 1
            counters[C_FRAMES_OK] += 1
        elif reason == _OK_MESSAGE:
            msg_spans[nm, 0] = pos
            msg_spans[nm, 1] = z
            nm += 1
            counters[C_MESSAGES_OK] += 1
        else:
            # a receiver joining mid-stream sees a partial first frame: not an error
            unsynced = first and reason in (C_CRC, C_COBS, C_TOO_SHORT, C_OVERSIZE)
            counters[C_RESYNC if unsynced else reason] += 1
            counters[C_BYTES_DISCARDED] += seg
        first = False
        pos = z + 1
    return nf, nm, pos
