//! HTTP/3 (RFC 9114) over QUIC (RFC 9000), on quinn and h3: from a UDP socket to requests handed
//! to an interface through [`granian_serve::Handler`], like the HTTP/1.1 and HTTP/2 crates, so
//! every interface and request layer serves HTTP/3 unchanged. Knows nothing about Python.
//!
//! [`Http3Server::new`] takes a UDP socket the caller bound, a rustls configuration offering
//! `h3` through ALPN, and [`Http3Limits`]; [`Http3Server::serve`] then accepts connections until
//! a [`granian_serve::Shutdown`] moves on. Requests carry `Version::HTTP_3`, an absolute URI
//! (`:authority` is the host) and a streamed [`granian_serve::IncomingBody`]; every connection's
//! [`granian_serve::ConnInfo`] has the peer and local addresses, scheme `https`, and TLS 1.3 with
//! the client's certificates when it sent some.
//!
//! Flow control is QUIC's: a request body is read only as the interface reads it (the client
//! may send `initial_stream_window_size` bytes ahead), and a response body is written only as
//! fast as the client takes it. A body longer than `max_body_size` gets 413, a body whose client
//! stalls longer than `body_read_timeout` 408, an oversized header section 431 (sent by h3), a
//! malformed request a stream error; a client that resets its stream mid-body ends the
//! interface's body with an error, and a response the client does not take for `send_timeout`
//! is reset. Answers to HEAD carry no body.
//! Malformed packets, stray datagrams and truncated handshakes are dropped by quinn before any
//! of this; nothing here parses bytes from the peer (h3 parses frames and QPACK), so this crate
//! has no fuzz target: h3 and quinn are fuzzed upstream.
//!
//! Not served: server push, 0-RTT (replayable requests), WebTransport, and websockets over
//! HTTP/3 (RFC 9220): h3 0.0.8 only knows the `webtransport` and `connect-udp` values of
//! `:protocol` and refuses a `websocket` extended CONNECT as malformed.
//!
//! # One port, several workers
//!
//! QUIC is connection-oriented over a connectionless socket: every datagram of a connection must
//! reach the process that holds its state. One UDP socket bound by the master and inherited by
//! forked workers does not do that: whichever worker reads first gets the datagram, so a
//! connection's packets are scattered across processes that each know nothing of it.
//!
//! Each worker therefore reads a socket of its own, all of one `SO_REUSEPORT` group on the
//! server's port ([`bind_udp`] binds one). By itself Linux hands each datagram to a socket of the
//! group by a hash of its addresses and ports, modulo the number of sockets: a client's datagrams
//! reach the same worker only as long as neither its address nor the group changes, and every
//! worker that starts or exits (a rolling restart, a replacement, a respawn) moves the flows of
//! many connections of the others, which then time out.
//!
//! [`Http3Server::steered`] avoids that. Its connection IDs start with a [`Steering`] prefix: a
//! marker shared by the server's workers, then the index of the worker's socket in the group. A
//! classic BPF program attached to the group (`SO_ATTACH_REUSEPORT_CBPF`, built by the Python
//! side, `granian._quic`) reads the destination connection ID of each datagram and returns that
//! index, so a connection stays with its worker whatever joins or leaves the group, and whatever
//! the client's address (migration is still refused by default, [`Http3Limits::migration`]).
//! Datagrams whose ID the server did not issue, a client's first packets, go to the sockets of the
//! workers taking new connections, chosen from the ID's first bytes (so a retransmission lands on
//! the same worker). Indices hold because the master binds every socket and keeps it open for
//! its whole life, handing a socket to one worker at a time.
//!
//! Address validation ([`Http3Limits::validate_address`]) works either way: the Retry's
//! connection ID carries the prefix, so the client's answer returns to the worker that issued
//! it. Each worker has its own stateless-reset key, and a steered worker drops short-header
//! packets whose ID lacks its prefix without answering: a datagram of another worker's
//! connection gets no reset the client would not accept anyway.

mod alt_svc;
mod body;
mod conn;
mod error;
mod limits;
mod request;
mod server;
mod socket;
mod steer;

pub use alt_svc::{ALT_SVC_MAX_AGE, alt_svc};
pub use error::Error;
pub use limits::Http3Limits;
pub use server::{ALPN_H3, Http3Server};
pub use socket::bind_udp;
pub use steer::{STEERED_CID_LEN, Steering};
