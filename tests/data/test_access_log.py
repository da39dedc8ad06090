from __future__ import annotations

import numpy as np
import pytest

from bastion.data import http_traffic, read_access_log, write_access_log
from bastion.exceptions import ValidationError

COMBINED = (
    '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?q=\\"x\\" HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"\n'
)
COMMON = '127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /index.html HTTP/1.0" 404 -\n'


def test_combined_line_gives_request_and_headers(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(COMBINED)
    stream = read_access_log(path)
    assert stream.payloads[0] == (
        b'GET /apache_pb.gif?q="x" HTTP/1.0\r\nReferer: http://www.example.com/start.html\r\n'
        b"User-Agent: Mozilla/4.08 [en] (Win98; I ;Nav)"
    )
    assert stream.timestamps[0] == 971211336.0  # 20:55:36 UTC
    assert not stream.labelled


def test_common_format_is_accepted(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(COMMON + "\n" + COMMON)
    assert read_access_log(path).payloads.tolist() == [b"GET /index.html HTTP/1.0"] * 2


def test_malformed_line_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(COMMON + "this is not a log line\n")
    with pytest.raises(ValidationError, match=r"line 2: .*not in common or combined log format"):
        read_access_log(path)


def test_bad_timestamp_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(COMMON.replace("10/Oct/2000", "10/Foo/2000"))
    with pytest.raises(ValidationError, match="line 1: its timestamp"):
        read_access_log(path)


def test_empty_or_missing_file_is_refused(tmp_path):
    (tmp_path / "empty.log").write_text("\n")
    with pytest.raises(ValidationError, match="at least one request"):
        read_access_log(tmp_path / "empty.log")
    with pytest.raises(ValidationError, match="existing"):
        read_access_log(tmp_path / "missing.log")


def test_generated_stream_round_trips_through_a_log(tmp_path):
    stream = http_traffic(800, attack_rate=0.05, seed=2)
    back = read_access_log(write_access_log(stream, tmp_path / "gen.log"))
    assert list(back.payloads) == list(stream.payloads)
    assert np.allclose(back.timestamps, np.floor(stream.timestamps))
