# Long module: one ctypes binding of the C core: build, signatures, and a wrapper per C object.
"""The C firmware core (``hardware/firmware/``) built on the host and driven from Python.

The core is the reference firmware of the wire protocol (``hardware/PROTOCOL.md``);
this module compiles it with the host's C compiler (``$CC``, default ``gcc``) into a
shared library cached under ``base.paths.cache_dir()/firmware`` (a temporary
directory if that is not writable) and wraps it with :mod:`ctypes`. Uses: checking the
C bytes against the Python codec (``tests/firmware``), counting instructions
(``scripts/firmware_cycles.py``) and ``plantar sim --firmware-core``, where the
simulated insoles' frames are encoded by the C core (:class:`FirmwareCoreInsole`).

Example::

    core = load_core()
    message = core.encode_data_frame(device_id=1, foot=0, seq=5, t_device_us=0,
                                     pressure_counts=counts, shear_centi_kpa=None)
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from base.errors import PlantarError
from base.wire.messages import DeviceInfo
from base.wire.protocol import (
    ENCODING_NAMES,
    FOOT_LEFT,
    FOOT_RIGHT,
    INFO_SIZE,
    MAX_SENSELS,
    MAX_SHEAR,
    SHEAR_COMPONENTS,
    Encoding,
)
from hardware.sim.insole import _INFO_PERIOD_US, SampleBlock, SimulatedInsole

__all__ = [
    "FIRMWARE_DIR",
    "CoreCallError",
    "CoreDevice",
    "FirmwareCore",
    "FirmwareCoreError",
    "FirmwareCoreInsole",
    "Packer",
    "build_driver",
    "build_library",
    "load_core",
    "sanitizers_available",
    "use_firmware_core",
]

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
CORE_SOURCES = ("plantar_proto.c", "plantar_notify.c", "plantar_device.c")
HOST_SHIM = "host/plantar_host.c"
HOST_MAIN = "host/plantar_host_main.c"
HEADERS = ("plantar_fw.h",)
#: The host build supports the protocol's full range (firmware builds choose less).
HOST_DEFINES = ("-DPLANTAR_MAX_SENSELS=4096", "-DPLANTAR_MAX_SHEAR=32")
WARNINGS = ("-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror")
SANITIZE_FLAGS = (
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
)

_ERRORS = {
    -1: "argument out of range",
    -2: "output buffer too small",
    -3: "12-bit encoding needs counts <= 4095",
    -4: "message longer than protocol v1's largest (8408 bytes)",
    -5: "invalid COBS",
    -6: "message too short",
    -7: "CRC mismatch",
    -8: "wrong message type",
    -9: "wrong protocol version",
    -10: "wrong message length",
    -11: "invalid state",
}
ERR_RANGE = -3
ERR_TOO_LARGE = -4


class FirmwareCoreError(PlantarError):
    """The C firmware core cannot be built or loaded on this machine."""


class CoreCallError(ValueError):
    """A core function returned an error code (``.code``, a PLANTAR_ERR_* value)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what}: {_ERRORS.get(code, 'error')} ({code})")
        self.code = code


# ------------------------------------------------------------------------------ build


def _compiler() -> str:
    cc = os.environ.get("CC", "gcc")
    path = shutil.which(cc)
    if path is None:
        raise FirmwareCoreError(
            f"C compiler {cc!r} not found: the firmware core is built on the host; install "
            "gcc (Debian/Raspberry Pi OS: sudo apt-get install gcc) or set CC"
        )
    return path


def _build_dir() -> Path:
    from base.paths import cache_dir

    try:
        path = cache_dir() / "firmware"
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
        return path
    except OSError:
        path = Path(tempfile.gettempdir()) / f"plantar-firmware-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
        return path


def _key(cc: str, flags: Sequence[str], files: Sequence[str]) -> str:
    h = hashlib.sha256()
    try:
        version = subprocess.run(
            [cc, "--version"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        version = ""
    h.update(version.encode())
    h.update("\0".join(flags).encode())
    for name in (*files, *HEADERS):
        h.update(name.encode())
        h.update((FIRMWARE_DIR / name).read_bytes())
    return h.hexdigest()[:16]


def _compile(name: str, files: Sequence[str], flags: Sequence[str], suffix: str = "") -> Path:
    cc = _compiler()
    flags = [*WARNINGS, *HOST_DEFINES, *flags]
    target = _build_dir() / f"{name}-{_key(cc, flags, files)}{suffix}"
    if target.exists():
        return target
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    cmd = [cc, *flags, *(str(FIRMWARE_DIR / f) for f in files), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr[:200])
        raise FirmwareCoreError(f"building the firmware core with {cc} failed: {first.strip()}")
    os.replace(tmp, target)
    return target


def build_library() -> Path:
    """Compile core + host shim into a shared library (cached); returns its path."""
    return _compile("libplantar_fw", [*CORE_SOURCES, HOST_SHIM], ["-O2", "-fPIC", "-shared"], ".so")


def build_driver(variant: str = "plain") -> Path:
    """Compile the test driver executable (``host/plantar_host_main.c``).

    ``variant``: ``"plain"`` (-O2 -g, for valgrind and callgrind), ``"size"`` (-Os -g,
    as firmware is often built) or ``"asan"`` (AddressSanitizer + UBSan).
    """
    flags = {"plain": ["-O2", "-g"], "size": ["-Os", "-g"], "asan": list(SANITIZE_FLAGS)}[variant]
    return _compile(f"plantar_host-{variant}", [*CORE_SOURCES, HOST_SHIM, HOST_MAIN], flags)


@functools.cache
def sanitizers_available() -> str | None:
    """None if ASan+UBSan programs build and run here, else the reason they do not."""
    try:
        cc = _compiler()
    except FirmwareCoreError as exc:
        return str(exc)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "t.c"
        src.write_text("int main(void) { return 0; }\n")
        exe = Path(tmp) / "t"
        proc = subprocess.run(
            [cc, *SANITIZE_FLAGS, str(src), "-o", str(exe)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            return f"{cc} cannot build with -fsanitize=address,undefined"
        run = subprocess.run([str(exe)], capture_output=True, text=True)
        if run.returncode != 0:
            return f"ASan programs do not run here: {run.stderr.strip()[:120]}"
    return None


# ---------------------------------------------------------------------------- ctypes

_u8p = ctypes.POINTER(ctypes.c_uint8)
_u16p = ctypes.POINTER(ctypes.c_uint16)
_i16p = ctypes.POINTER(ctypes.c_int16)
_NOTIFY = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, _u8p, ctypes.c_size_t)
_SELECT_ROW = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint16)
_READ_COLUMN = ctypes.CFUNCTYPE(ctypes.c_uint16, ctypes.c_void_p, ctypes.c_uint16)
_READ_SHEAR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, _i16p, ctypes.c_uint8)


class _InfoStruct(ctypes.Structure):
    """``plantar_info``."""

    _fields_ = (
        ("device_id", ctypes.c_uint16),
        ("foot", ctypes.c_uint8),
        ("sampling_rate_hz", ctypes.c_uint16),
        ("n_sensels", ctypes.c_uint16),
        ("n_shear", ctypes.c_uint8),
        ("firmware_version", ctypes.c_char_p),
        ("layout_id", ctypes.c_char_p),
        ("calibration_id", ctypes.c_char_p),
    )


_PROTOTYPES: dict[str, tuple[object, list[object]]] = {
    "plantar_crc32": (ctypes.c_uint32, [ctypes.c_char_p, ctypes.c_size_t]),
    "plantar_cobs_encode": (ctypes.c_size_t, [ctypes.c_char_p, ctypes.c_size_t, _u8p]),
    "plantar_cobs_decode": (
        ctypes.c_int32,
        [ctypes.c_char_p, ctypes.c_size_t, _u8p, ctypes.c_size_t],
    ),
    "plantar_frame": (ctypes.c_int32, [ctypes.c_char_p, ctypes.c_size_t, _u8p, ctypes.c_size_t]),
    "plantar_encode_data": (
        ctypes.c_int32,
        [
            ctypes.c_uint16,
            ctypes.c_uint8,
            ctypes.c_uint32,
            ctypes.c_uint64,
            _u16p,
            ctypes.c_uint16,
            _i16p,
            ctypes.c_uint8,
            ctypes.c_int,
            _u8p,
            ctypes.c_size_t,
        ],
    ),
    "plantar_encode_info": (ctypes.c_int32, [ctypes.POINTER(_InfoStruct), _u8p]),
    "plantar_encode_ack": (
        ctypes.c_int32,
        [ctypes.c_uint8, ctypes.c_uint8, ctypes.c_uint16, _u8p],
    ),
    "plantar_encode_control": (ctypes.c_int32, [ctypes.c_uint8, ctypes.c_uint16, _u8p]),
    "plantar_decode_control": (
        ctypes.c_int32,
        [ctypes.c_char_p, ctypes.c_size_t, _u8p, _u16p],
    ),
    "plantar_packer_init": (
        ctypes.c_int32,
        [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint8, _NOTIFY, ctypes.c_void_p],
    ),
    "plantar_packer_push": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]),
    "plantar_packer_flush": (None, [ctypes.c_void_p]),
    "plantar_host_dev_size": (ctypes.c_size_t, []),
    "plantar_host_packer_size": (ctypes.c_size_t, []),
    "plantar_host_max_sensels": (ctypes.c_uint32, []),
    "plantar_host_dev_init": (
        ctypes.c_int32,
        [
            ctypes.c_void_p,
            ctypes.c_uint16,
            ctypes.c_uint8,
            ctypes.c_uint16,
            ctypes.c_uint16,
            _i16p,
            ctypes.c_uint16,
            ctypes.c_uint8,
            ctypes.c_uint16,
            ctypes.c_uint16,
            ctypes.c_uint16,
            ctypes.c_uint16,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            _SELECT_ROW,
            _READ_COLUMN,
            _READ_SHEAR,
            _NOTIFY,
        ],
    ),
    "plantar_dev_tare": (None, [ctypes.c_void_p, ctypes.c_uint16]),
    "plantar_dev_scan": (None, [ctypes.c_void_p]),
    "plantar_dev_sample": (ctypes.c_int32, [ctypes.c_void_p, ctypes.c_uint64]),
    "plantar_dev_poll": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64]),
    "plantar_dev_control": (
        ctypes.c_int32,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64],
    ),
    "plantar_dev_rx": (
        None,
        [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64],
    ),
    "plantar_dev_send_info": (ctypes.c_int32, [ctypes.c_void_p]),
    "plantar_dev_rate_hz": (ctypes.c_uint16, [ctypes.c_void_p]),
    "plantar_host_dev_seq": (ctypes.c_uint32, [ctypes.c_void_p]),
    "plantar_host_dev_set_seq": (None, [ctypes.c_void_p, ctypes.c_uint32]),
    "plantar_host_dev_samples": (ctypes.c_uint32, [ctypes.c_void_p]),
    "plantar_host_dev_overruns": (ctypes.c_uint32, [ctypes.c_void_p]),
    "plantar_host_dev_write_errors": (ctypes.c_uint32, [ctypes.c_void_p]),
    "plantar_host_dev_counts": (_u16p, [ctypes.c_void_p]),
    "plantar_host_dev_tare": (_u16p, [ctypes.c_void_p]),
    "plantar_host_dev_rx_rejected": (ctypes.c_uint32, [ctypes.c_void_p]),
    "plantar_host_dev_streaming": (ctypes.c_int, [ctypes.c_void_p]),
}

_MAX_MESSAGE = 20 + 2 * MAX_SENSELS + (MAX_SENSELS + 7) // 8 + (MAX_SENSELS + 63) // 64
_MAX_MESSAGE += 6 * MAX_SHEAR + 4
_MAX_FRAMED = _MAX_MESSAGE + _MAX_MESSAGE // 254 + 2


def _encoding_arg(encoding: str | Encoding | int) -> int:
    if isinstance(encoding, str):
        if encoding == "auto":
            return -1
        if encoding not in ENCODING_NAMES:
            raise ValueError(f"unknown encoding {encoding!r}; use auto or {list(ENCODING_NAMES)}")
        return int(ENCODING_NAMES[encoding])
    return int(Encoding(encoding))


class FirmwareCore:
    """ctypes wrapper of the C core; every encoder mirrors :mod:`base.wire`."""

    def __init__(self, library: Path | None = None) -> None:
        path = build_library() if library is None else library
        try:
            self.lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise FirmwareCoreError(f"cannot load the firmware core {path}: {exc}") from None
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(self.lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        self.max_sensels = int(self.lib.plantar_host_max_sensels())
        self._out = (ctypes.c_uint8 * _MAX_MESSAGE)()
        self._framed = (ctypes.c_uint8 * _MAX_FRAMED)()

    # -------------------------------------------------------------- CRC and COBS
    def crc32(self, data: bytes) -> int:
        """CRC-32 of ``data`` computed by the core."""
        return int(self.lib.plantar_crc32(bytes(data), len(data)))

    def cobs_encode(self, message: bytes) -> bytes:
        """COBS encoding of ``message`` (no delimiter)."""
        out = (ctypes.c_uint8 * (len(message) + len(message) // 254 + 1))()
        n = self.lib.plantar_cobs_encode(bytes(message), len(message), out)
        return bytes(out[:n])

    def cobs_decode(self, encoded: bytes) -> bytes:
        """Decode one COBS block sequence; raises :class:`CoreCallError` if invalid."""
        out = (ctypes.c_uint8 * max(len(encoded), 1))()
        n = self.lib.plantar_cobs_decode(bytes(encoded), len(encoded), out, len(encoded))
        if n < 0:
            raise CoreCallError(n, "cobs_decode")
        return bytes(out[:n])

    def frame_message(self, message: bytes) -> bytes:
        """COBS-encode ``message`` and append the 0x00 delimiter."""
        cap = len(message) + len(message) // 254 + 2
        out = self._framed if cap <= _MAX_FRAMED else (ctypes.c_uint8 * cap)()
        n = self.lib.plantar_frame(bytes(message), len(message), out, cap)
        if n < 0:
            raise CoreCallError(n, "frame")
        return ctypes.string_at(out, n)

    # ---------------------------------------------------------------- messages
    def encode_data_frame(
        self,
        *,
        device_id: int,
        foot: int,
        seq: int,
        t_device_us: int,
        pressure_counts: np.ndarray,
        shear_centi_kpa: np.ndarray | None,
        encoding: str | Encoding = "auto",
    ) -> bytes:
        """One DATA message (unframed, with CRC), as
        :func:`base.wire.payload.encode_data_frame` but encoded by the C core."""
        counts = np.asarray(pressure_counts)
        if counts.ndim != 1 or not 1 <= counts.shape[0] <= MAX_SENSELS:
            raise ValueError(f"pressure_counts must have shape (n,), 1 <= n <= {MAX_SENSELS}")
        if counts.dtype != np.uint16:
            if counts.size and (int(counts.min()) < 0 or int(counts.max()) > 0xFFFF):
                raise ValueError("pressure_counts must be in 0..65535")
            counts = counts.astype(np.uint16)
        counts = np.ascontiguousarray(counts)
        if shear_centi_kpa is None:
            shear = np.zeros((0, SHEAR_COMPONENTS), np.int16)
        else:
            shear = np.asarray(shear_centi_kpa)
        if shear.ndim != 2 or shear.shape[1] != SHEAR_COMPONENTS or shear.shape[0] > MAX_SHEAR:
            raise ValueError(f"shear_centi_kpa must have shape (k, 3), k <= {MAX_SHEAR}")
        if shear.dtype != np.int16:
            if shear.size and (int(shear.min()) < -32768 or int(shear.max()) > 32767):
                raise ValueError("shear_centi_kpa must be in the int16 range")
            shear = shear.astype(np.int16)
        shear = np.ascontiguousarray(shear)
        if foot not in (FOOT_LEFT, FOOT_RIGHT):
            raise ValueError(f"foot must be 0 (left) or 1 (right), got {foot}")
        n = self.lib.plantar_encode_data(
            device_id,
            foot,
            seq % (1 << 32),
            t_device_us,
            counts.ctypes.data_as(_u16p),
            counts.shape[0],
            shear.ctypes.data_as(_i16p) if shear.shape[0] else None,
            shear.shape[0],
            _encoding_arg(encoding),
            self._out,
            _MAX_MESSAGE,
        )
        if n < 0:
            raise CoreCallError(n, "encode_data")
        return ctypes.string_at(self._out, n)

    def encode_info(self, info: DeviceInfo) -> bytes:
        """The 78-byte INFO message encoded by the core."""
        lib = self.lib
        out = (ctypes.c_uint8 * INFO_SIZE)()
        strings = [
            s.encode("utf-8") for s in (info.firmware_version, info.layout_id, info.calibration_id)
        ]
        for raw, limit in zip(strings, (16, 24, 24), strict=True):
            if len(raw) > limit:
                raise ValueError(f"INFO string {raw!r} is longer than {limit} bytes")
        if info.foot not in (FOOT_LEFT, FOOT_RIGHT):
            raise ValueError(f"foot must be 0 (left) or 1 (right), got {info.foot}")
        s = _InfoStruct(
            info.device_id,
            info.foot,
            info.sampling_rate_hz,
            info.n_sensels,
            info.n_shear,
            *strings,
        )
        n = lib.plantar_encode_info(ctypes.byref(s), out)
        if n < 0:
            raise CoreCallError(n, "encode_info")
        return bytes(out[:n])

    def encode_ack(self, command: int, status: int, argument: int = 0) -> bytes:
        """The 10-byte ACK message."""
        out = (ctypes.c_uint8 * 10)()
        self.lib.plantar_encode_ack(command, status, argument, out)
        return bytes(out)

    def encode_control(self, command: int, argument: int = 0) -> bytes:
        """The 9-byte CONTROL message."""
        out = (ctypes.c_uint8 * 9)()
        self.lib.plantar_encode_control(command, argument, out)
        return bytes(out)

    def decode_control(self, message: bytes) -> tuple[int, int]:
        """(command, argument) of an unframed CONTROL message; :class:`CoreCallError`."""
        cmd = ctypes.c_uint8()
        arg = ctypes.c_uint16()
        rc = self.lib.plantar_decode_control(
            bytes(message), len(message), ctypes.byref(cmd), ctypes.byref(arg)
        )
        if rc != 0:
            raise CoreCallError(rc, "decode_control")
        return int(cmd.value), int(arg.value)

    # --------------------------------------------------------------------- BLE
    def pack_notifications(
        self, frames: bytes | Iterable[bytes], att_mtu: int, *, start_counter: int = 0
    ) -> list[bytes]:
        """Notification payloads of framed bytes (a stream or framed messages pushed one
        by one), as :func:`base.wire.ble_packing.pack_notifications`."""
        packer = Packer(self, att_mtu, start_counter)
        if isinstance(frames, bytes | bytearray | memoryview):
            packer.push(bytes(frames))
        else:
            for frame in frames:
                packer.push(frame)
        packer.flush()
        return packer.notifications

    def device(self, **kwargs: object) -> CoreDevice:
        """A :class:`CoreDevice` on this core."""
        return CoreDevice(self, **kwargs)  # type: ignore[arg-type]


class Packer:
    """A ``plantar_packer``: framed bytes in, notification payloads collected in
    :attr:`notifications`."""

    def __init__(self, core: FirmwareCore, att_mtu: int, start_counter: int = 0) -> None:
        self.core = core
        self.notifications: list[bytes] = []
        self._buf = ctypes.create_string_buffer(int(core.lib.plantar_host_packer_size()))
        self._cb = _NOTIFY(self._notify)
        rc = core.lib.plantar_packer_init(self._buf, att_mtu, start_counter, self._cb, None)
        if rc != 0:
            raise CoreCallError(rc, f"packer_init(att_mtu={att_mtu})")

    def _notify(self, _ctx: int, value: ctypes._Pointer, n: int) -> int:
        self.notifications.append(ctypes.string_at(value, n))
        return 0

    def push(self, framed: bytes) -> None:
        """Push framed bytes (whole frames)."""
        self.core.lib.plantar_packer_push(self._buf, framed, len(framed))

    def flush(self) -> None:
        """Send the partly filled notification."""
        self.core.lib.plantar_packer_flush(self._buf)


class CoreDevice:
    """A ``plantar_dev`` (sampling loop, tare, seq counter, CONTROL handling) with its
    matrix read through Python callbacks; written bytes collect in :attr:`output`.

    Parameters
    ----------
    core : the loaded core.
    sensel_of_cell : (rows, cols) int array, sensel index of each matrix cell or -1.
    read_raw : ``read_raw(row, col) -> int`` raw ADC reading of a cell.
    n_shear : shear sites; ``read_shear() -> (n_shear, 3) int16`` supplies them.
    """

    def __init__(
        self,
        core: FirmwareCore,
        *,
        sensel_of_cell: np.ndarray,
        read_raw: Callable[[int, int], int],
        n_shear: int = 0,
        read_shear: Callable[[], np.ndarray] | None = None,
        device_id: int = 1,
        foot: int = FOOT_LEFT,
        rate_hz: int = 200,
        min_rate_hz: int = 1,
        max_rate_hz: int = 2000,
        threshold_counts: int = 0,
        encoding: str | Encoding = "auto",
        start_streaming: bool = False,
        firmware_version: str = "plantar-core",
        layout_id: str = "host",
        calibration_id: str = "none",
    ) -> None:
        self.core = core
        lib = core.lib
        self.map = np.ascontiguousarray(sensel_of_cell, dtype=np.int16)
        rows, cols = self.map.shape
        self.n_sensels = int((self.map >= 0).sum())
        self.n_shear = n_shear
        self.output = bytearray()
        self.write_failures = 0
        self._row = 0
        self._read_raw = read_raw
        self._read_shear = read_shear
        self._strings = [s.encode() for s in (firmware_version, layout_id, calibration_id)]
        self._buf = ctypes.create_string_buffer(int(lib.plantar_host_dev_size()))
        self._cbs = (
            _SELECT_ROW(self._select_row),
            _READ_COLUMN(self._read_column),
            _READ_SHEAR(self._shear) if read_shear is not None else _READ_SHEAR(),
            _NOTIFY(self._write),
        )
        rc = lib.plantar_host_dev_init(
            self._buf,
            device_id,
            foot,
            rows,
            cols,
            self.map.ctypes.data_as(_i16p),
            self.n_sensels,
            n_shear,
            rate_hz,
            min_rate_hz,
            max_rate_hz,
            threshold_counts,
            _encoding_arg(encoding),
            int(start_streaming),
            *self._strings,
            *self._cbs,
        )
        if rc != 0:
            raise CoreCallError(rc, "dev_init")

    def _select_row(self, _ctx: int, row: int) -> None:
        self._row = row

    def _read_column(self, _ctx: int, col: int) -> int:
        return int(self._read_raw(self._row, col))

    def _shear(self, _ctx: int, out: ctypes._Pointer, k: int) -> None:
        assert self._read_shear is not None
        values = np.asarray(self._read_shear(), dtype=np.int16).ravel()
        for i in range(3 * k):
            out[i] = int(values[i])

    def _write(self, _ctx: int, data: ctypes._Pointer, n: int) -> int:
        self.output += ctypes.string_at(data, n)
        return 0

    def take_output(self) -> bytes:
        """Bytes written since the last call."""
        out = bytes(self.output)
        self.output.clear()
        return out

    def tare(self, n_scans: int = 8) -> None:
        """Average ``n_scans`` scans into the tare."""
        self.core.lib.plantar_dev_tare(self._buf, n_scans)

    def scan(self) -> np.ndarray:
        """Scan once; returns the counts after tare (copy)."""
        self.core.lib.plantar_dev_scan(self._buf)
        return self.counts

    @property
    def counts(self) -> np.ndarray:
        """Counts of the last scan."""
        ptr = self.core.lib.plantar_host_dev_counts(self._buf)
        return np.ctypeslib.as_array(ptr, (self.n_sensels,)).copy()

    @property
    def tare_counts(self) -> np.ndarray:
        """Current tare per sensel."""
        ptr = self.core.lib.plantar_host_dev_tare(self._buf)
        return np.ctypeslib.as_array(ptr, (self.n_sensels,)).copy()

    def sample(self, t_device_us: int) -> int:
        """Take one sample now; returns the framed DATA length."""
        return int(self.core.lib.plantar_dev_sample(self._buf, t_device_us))

    def poll(self, now_us: int) -> bool:
        """Run the fixed-rate scheduler at ``now_us``; True if a sample was taken."""
        return bool(self.core.lib.plantar_dev_poll(self._buf, now_us))

    def control(self, message: bytes, now_us: int = 0) -> int:
        """An unframed CONTROL message (BLE write); returns the ACK status or an error."""
        return int(self.core.lib.plantar_dev_control(self._buf, message, len(message), now_us))

    def rx(self, data: bytes, now_us: int = 0) -> None:
        """Serial bytes from the host (COBS-framed CONTROL messages)."""
        self.core.lib.plantar_dev_rx(self._buf, data, len(data), now_us)

    @property
    def seq(self) -> int:
        """Sequence number of the next sample."""
        return int(self.core.lib.plantar_host_dev_seq(self._buf))

    @seq.setter
    def seq(self, value: int) -> None:
        self.core.lib.plantar_host_dev_set_seq(self._buf, value % (1 << 32))

    @property
    def rate_hz(self) -> int:
        """Current sampling rate."""
        return int(self.core.lib.plantar_dev_rate_hz(self._buf))

    @property
    def streaming(self) -> bool:
        """Whether DATA is being sent."""
        return bool(self.core.lib.plantar_host_dev_streaming(self._buf))

    @property
    def overruns(self) -> int:
        """Sampling slots skipped by the scheduler."""
        return int(self.core.lib.plantar_host_dev_overruns(self._buf))

    @property
    def rx_rejected(self) -> int:
        """Received serial frames that were not a valid CONTROL message."""
        return int(self.core.lib.plantar_host_dev_rx_rejected(self._buf))


@functools.cache
def load_core() -> FirmwareCore:
    """The core built for this host (compiled once per source version, then cached)."""
    return FirmwareCore()


# ------------------------------------------------------------------------- simulator


class FirmwareCoreInsole(SimulatedInsole):
    """A simulated insole whose messages are encoded and framed by the C core.

    Same physics, same seed, same INFO schedule as :class:`SimulatedInsole`; only the
    bytes come from ``hardware/firmware`` (they must be identical).
    """

    core: FirmwareCore

    def __init__(self, *args: object, core: FirmwareCore | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.core = core or load_core()

    def encode_block(self, block: SampleBlock) -> bytes:
        """Framed INFO + DATA bytes of a block, encoded by the C core."""
        core = self.core
        foot = FOOT_RIGHT if self.foot == "right" else FOOT_LEFT
        shear = block.shear_centi_kpa if self.layout.n_shear else None
        out: list[bytes] = []
        for i in range(len(block)):
            t_us = int(block.t_device_us[i])
            if self._next_info_us is None or t_us >= self._next_info_us:
                out.append(core.frame_message(core.encode_info(self.info)))
                self._next_info_us = t_us + _INFO_PERIOD_US
            if block.lost[i]:
                continue
            message = core.encode_data_frame(
                device_id=self.device_id,
                foot=foot,
                seq=int(block.seq[i]),
                t_device_us=t_us,
                pressure_counts=block.pressure_counts[i],
                shear_centi_kpa=None if shear is None else shear[i],
            )
            out.append(core.frame_message(message))
        return b"".join(out)


def use_firmware_core(
    insoles: Sequence[SimulatedInsole], core: FirmwareCore | None = None
) -> list[FirmwareCoreInsole]:
    """The same insoles (same state, seed and position) with C-encoded bytes."""
    core = core or load_core()
    converted = []
    for insole in insoles:
        twin = FirmwareCoreInsole.__new__(FirmwareCoreInsole)
        twin.__dict__.update(vars(insole))
        twin.core = core
        converted.append(twin)
    return converted
