"""Hostile and broken HTTP/1.1 input against a WSGI application: the cases of
tests/http1/test_bad_input.py, collected again here so that they run against this module's server
(the same flags, with --interface wsgi and tests/apps/wsgi_app.py, which has the routes they use:
`/`, `/echo`, `/disconnect` and `/record`)."""

from __future__ import annotations

from tests.http1.test_bad_input import (  # noqa: F401 (collected by pytest from this module)
    SERVER_ARGS,
    test_arbitrary_bytes_never_get_a_5xx_or_hang,
    test_bad_chunk_is_never_a_success,
    test_bad_content_length_is_400,
    test_client_dropping_mid_body,
    test_content_length_with_transfer_encoding_cannot_smuggle,
    test_head_within_the_buffer_is_served,
    test_malformed_head_is_400_then_close,
    test_many_half_open_connections_do_not_block_others,
    test_oversized_head_is_431_then_close,
    test_slow_but_steady_head_within_the_timeout_is_served,
    test_stalled_head_is_cut_after_the_header_read_timeout,
    test_unknown_transfer_encoding_is_refused,
    test_unsupported_version_is_refused,
)

SERVER_APP = 'tests.apps.wsgi_app:app'
SERVER_INTERFACE = 'wsgi'
