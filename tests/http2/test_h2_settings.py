"""The --http2-* flags reach the wire: SETTINGS, window updates, keep-alive pings."""

from __future__ import annotations

import time

from hyperframe.frame import PingFrame, SettingsFrame, WindowUpdateFrame

from tests.conftest import run_server
from tests.http2.test_h2_attacks import RawH2


def test_settings_flags_are_advertised() -> None:
    args = (
        '--http2-max-concurrent-streams=7',
        '--http2-initial-stream-window-size=100000',
        '--http2-initial-connection-window-size=3000000',
        '--http2-max-frame-size=32768',
        '--http2-max-headers-size=20000',
    )
    with run_server('--http', '2', *args) as server:
        conn = RawH2(server.port)
        try:
            frames = conn.read_frames(1.0)
        finally:
            conn.close()
    [settings] = [f for f in frames if isinstance(f, SettingsFrame) and 'ACK' not in f.flags]
    assert settings.settings[SettingsFrame.MAX_CONCURRENT_STREAMS] == 7
    assert settings.settings[SettingsFrame.INITIAL_WINDOW_SIZE] == 100000
    assert settings.settings[SettingsFrame.MAX_FRAME_SIZE] == 32768
    assert settings.settings[SettingsFrame.MAX_HEADER_LIST_SIZE] == 20000
    # The connection window starts at 65535 (RFC 9113 §6.9.2) and is raised by an update.
    updates = [f.window_increment for f in frames if isinstance(f, WindowUpdateFrame) and f.stream_id == 0]
    assert updates == [3000000 - 65535]


def test_keep_alive_pings_and_drops_a_silent_peer() -> None:
    with run_server('--http', '2', '--http2-keep-alive-interval=200', '--http2-keep-alive-timeout=1') as server:
        conn = RawH2(server.port)
        try:
            # This peer reads but never acknowledges a PING: it is closed once the timeout passes.
            started = time.monotonic()
            frames = conn.read_frames(10.0)
            elapsed = time.monotonic() - started
        finally:
            conn.close()
    assert any(isinstance(f, PingFrame) and 'ACK' not in f.flags for f in frames), frames
    assert conn.closed
    assert elapsed < 5.0, f'silent peer kept for {elapsed:.1f}s'
