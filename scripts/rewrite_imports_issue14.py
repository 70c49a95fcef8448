"""One-off migration for issue 14 step 1 (the base layer): rewrite imports of moved modules.

Run from a worktree root on the files to rewrite, then ``ruff check --fix`` (import order)::

    python scripts/rewrite_imports_issue14.py $(git ls-files '*.py' '*.md')

It is kept until every branch of issue 14 is merged, then deleted.
"""

import ast
import pathlib
import re
import sys

CODEC = {
    "base.wire.messages": (
        "ProtocolError DeviceInfo ControlCommand Ack "
        "encode_info encode_control encode_ack decode_message"
    ),
    "base.wire.payload": "encode_pressure_payload encode_data_frame",
    "base.wire.ble_packing": "pack_notifications NotificationChunk NotificationReassembler",
    "base.wire.protocol": "FOOT_LEFT FOOT_RIGHT",
    "base.wire.cobs": "frame_message",
    "firmware_bridge.stream_decoder": (
        "FrameBatch DecoderStats StreamDecoder unwrap_seq warm_up_decoder"
    ),
}
NAME_TO_MOD = {n: m for m, names in CODEC.items() for n in names.split()}
_PROTOCOL = pathlib.Path("base/wire/protocol.py")
_PROTOCOL = _PROTOCOL if _PROTOCOL.exists() else pathlib.Path("firmware_bridge/protocol.py")
for _n in re.findall(r"^(?:class )?([A-Za-z_]\w*)\b", _PROTOCOL.read_text(), re.M):
    NAME_TO_MOD.setdefault(_n, "base.wire.protocol")
MODULES = [  # (old dotted module, new dotted module), longest first
    ("firmware_bridge.protocol", "base.wire.protocol"),
    ("firmware_bridge.cobs", "base.wire.cobs"),
    ("firmware_bridge.crc", "base.wire.crc"),
    ("firmware_bridge.frames", "base.frames"),
    ("plantar.errors", "base.errors"),
    ("plantar.paths", "base.paths"),
]


def rewrite_codec_imports(text: str) -> str:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    lines = text.splitlines(keepends=True)
    edits = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module == "firmware_bridge.codec"
        ):
            groups: dict[str, list[str]] = {}
            for a in node.names:
                mod = NAME_TO_MOD[a.name]
                groups.setdefault(mod, []).append(a.name + (f" as {a.asname}" if a.asname else ""))
            indent = " " * node.col_offset
            new = "".join(
                f"{indent}from {m} import {', '.join(ns)}\n" for m, ns in sorted(groups.items())
            )
            edits.append((node.lineno - 1, node.end_lineno, new))
    for start, end, new in sorted(edits, reverse=True):
        lines[start:end] = [new]
    return "".join(lines)


def rewrite_text(text: str) -> str:
    # dotted references to codec names (docstrings, strings)
    text = re.sub(
        r"firmware_bridge\.codec\.(\w+)",
        lambda m: f"{NAME_TO_MOD.get(m.group(1), 'firmware_bridge.stream_decoder')}.{m.group(1)}",
        text,
    )
    for old, new in MODULES:
        text = re.sub(rf"\b{re.escape(old)}\b", new, text)
    text = re.sub(
        r"^(\s*)from plantar import paths$", r"\1from base import paths", text, flags=re.M
    )
    return text


def main(paths):
    for p in paths:
        p = pathlib.Path(p)
        old = p.read_text()
        new = rewrite_text(rewrite_codec_imports(old) if p.suffix == ".py" else old)
        if new != old:
            p.write_text(new)
            print("rewrote", p)


if __name__ == "__main__":
    main(sys.argv[1:])
