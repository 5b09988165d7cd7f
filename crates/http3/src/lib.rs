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
//! fast as the client takes it. A body longer than `max_body_size` gets 413, an oversized
//! header section 431 (sent by h3), a malformed request a stream error; a client that resets
//! its stream mid-body ends the interface's body with an error. Answers to HEAD carry no body.
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
//! Each worker therefore binds a socket of its own with `SO_REUSEPORT` ([`bind_udp`]). Linux
//! hands each datagram to one socket of the group by a hash of its addresses and ports, so a
//! client's datagrams reach the same worker as long as that 4-tuple holds. It does not hold when:
//!
//! - the client's address changes (connection migration, a NAT rebinding): its datagrams land on
//!   another worker, which does not know the connection and drops them; the client times out and
//!   reconnects. Active migration is refused by default ([`Http3Limits::migration`]).
//! - the group changes: a worker that exits or starts changes the hash modulus, moving many
//!   connections of other workers too. Worker restarts cost HTTP/3 clients a reconnect.
//!
//! Address validation ([`Http3Limits::validate_address`]) is unaffected: the client answers a
//! Retry from the same address, so the token comes back to the worker that issued it. Each
//! worker has its own stateless-reset key, so a datagram of another worker's connection gets no
//! reset the client would accept: a misrouted client times out rather than being told at once.
//!
//! Steering by connection ID instead of addresses avoids both: the server encodes its worker in
//! the connection IDs it issues, and an eBPF program (`SO_ATTACH_REUSEPORT_EBPF`) picks the socket
//! from the ID in each packet. That needs a custom `quinn` connection ID generator and a BPF
//! loader, and is left for later; one worker serving HTTP/3 on its port is the alternative that
//! keeps migration working.

mod alt_svc;
mod body;
mod conn;
mod error;
mod limits;
mod request;
mod server;
mod socket;

pub use alt_svc::{ALT_SVC_MAX_AGE, alt_svc};
pub use error::Error;
pub use limits::Http3Limits;
pub use server::{ALPN_H3, Http3Server};
pub use socket::bind_udp;
