"""Web server access logs (NCSA common and combined format) in and out of a TrafficStream.

A line of the combined format (Apache's ``LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\"
\\"%{User-agent}i\\""``)::

    203.0.113.9 - - [05/Jan/2026:10:00:00 +0000] "GET /search?q=shoes HTTP/1.1" 200 5120 "-" "Mozilla/5.0 ..."

The common format stops after the size; one more quoted field (the Cookie header, a common
extension) is accepted after the user agent. Inside quotes, ``\\"``, ``\\\\`` and ``\\xhh``
are escapes, as Apache writes them.
"""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

import numpy as np

from bastion.data.traffic import TrafficStream
from bastion.exceptions import InputTypeError, ValidationError

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_LINE = re.compile(
    rf"^(\S+) (\S+) (\S+) \[([^\]]+)\] {_QUOTED} (\d{{3}}|-) (\d+|-)"
    rf"(?: {_QUOTED} {_QUOTED})?(?: {_QUOTED})?\s*$"
)
_TIME = re.compile(r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)")


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 3 else m.group(1), text)


def escape(text: str) -> str:
    """Escape a field for the inside of a quoted log field (``"`` and ``\\``)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def format_time(timestamp: float) -> str:
    """``[day/Mon/year:HH:MM:SS +0000]`` of a POSIX timestamp, in UTC."""
    year, month, day, hour, minute, second = time.gmtime(int(timestamp))[:6]
    return f"[{day:02d}/{calendar.month_abbr[month]}/{year}:{hour:02d}:{minute:02d}:{second:02d} +0000]"


def parse_time(text: str) -> float | None:
    """POSIX seconds of a log timestamp ``10/Oct/2000:13:55:36 -0700``; ``None`` if malformed."""
    match = _TIME.match(text)
    if match is None or match.group(2) not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        seconds = calendar.timegm((int(year), _MONTHS[match.group(2)], int(day), int(hour), int(minute), int(second)))
    except ValueError:
        return None
    offset = (int(off_h) * 3600 + int(off_m) * 60) * (1 if sign == "+" else -1)
    return float(seconds - offset)


def request_payload(request: str, referer: str | None, user_agent: str | None, cookie: str | None) -> bytes:
    """What a content sensor sees of one request: the request line and its logged headers.

    The request line, then ``Referer:``, ``User-Agent:`` and ``Cookie:`` header lines (those
    present and not ``-``), joined by CRLF, UTF-8 encoded.
    """
    parts = [request]
    for header, value in (("Referer", referer), ("User-Agent", user_agent), ("Cookie", cookie)):
        if value and value != "-":
            parts.append(f"{header}: {value}")
    return "\r\n".join(parts).encode("utf-8", errors="surrogateescape")


def read_access_log(path: str | Path, *, name: str | None = None) -> TrafficStream:
    """Read a common/combined-format access log into an unlabelled :class:`TrafficStream`.

    Args:
        path: the log file (UTF-8; undecodable bytes are kept as they are).
        name: the stream's name (default: the file name).

    Returns:
        The requests in log order; ``is_attack`` and ``kind`` are ``None`` (a log carries no
        ground truth).

    Raises:
        InputTypeError: ``path`` is not a path.
        ValidationError: the file is missing or empty, or a line is not in the common or
            combined format (the message names the line number and shows the line).
    """
    if not isinstance(path, (str, Path)):
        raise InputTypeError(f"`path` must be a path to an access log, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"`path` must be an existing access-log file, got {str(path)!r}")
    payloads: list[bytes] = []
    timestamps: list[float] = []
    lines: list[str] = []
    with path.open(encoding="utf-8", errors="surrogateescape") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            match = _LINE.match(line)
            timestamp = parse_time(match.group(4)) if match else None
            if match is None or timestamp is None:
                shown = line if len(line) <= 120 else line[:117] + "..."
                what = (
                    "its timestamp is not day/Mon/year:HH:MM:SS +zone"
                    if match
                    else "it is not in common or combined log format"
                )
                raise ValidationError(f"{path}: line {number}: {what}: {shown!r}")
            request, referer, agent, cookie = (None if g is None else _unescape(g) for g in match.group(5, 8, 9, 10))
            payloads.append(request_payload(request, referer, agent, cookie))
            timestamps.append(timestamp)
            lines.append(line)
    if not lines:
        raise ValidationError(f"`path` must hold at least one request, {str(path)!r} has none")
    return TrafficStream(
        payloads=_objects(payloads),
        timestamps=np.asarray(timestamps, dtype=np.float64),
        lines=_objects(lines),
        name=name or path.name,
    )


def write_access_log(stream: TrafficStream, path: str | Path) -> Path:
    """Write the stream's log lines to ``path`` (one per line); returns the path."""
    if not isinstance(stream, TrafficStream):
        raise InputTypeError(f"`stream` must be a TrafficStream, got {type(stream).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.writelines(line + "\n" for line in stream.lines)
    return path


def _objects(values: list) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
