use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quinn_proto::{ConnectionId, ConnectionIdGenerator, InvalidCid};

/// Length of the connection IDs a steered endpoint issues: the four bytes of its [`Steering`]
/// prefix, then eight random ones.
pub const STEERED_CID_LEN: usize = 12;

/// Where the datagrams of this endpoint's connections are to be delivered when several worker
/// processes share one UDP port through a `SO_REUSEPORT` group.
///
/// Every connection ID the endpoint issues starts with `marker` and `socket` (both big-endian),
/// so a classic BPF program attached to the group (`SO_ATTACH_REUSEPORT_CBPF`) can read the
/// destination connection ID of each datagram and return `socket`, the index of this worker's
/// socket in the group. The index is the socket's position in the group, which stays put as long
/// as no socket leaves it: the process that owns the group keeps every socket open for its whole
/// life. `marker` tells the IDs of this server apart from the random ones a client picks for its
/// first packets (RFC 9000 §7.2), which the program spreads over the sockets taking new
/// connections instead. See the crate's front page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steering {
    /// The same for every worker of one server.
    pub marker: u16,
    /// This worker's socket: its index in the `SO_REUSEPORT` group.
    pub socket: u16,
}

impl Steering {
    /// The first bytes of every connection ID issued with this steering.
    #[must_use]
    pub fn prefix(self) -> [u8; 4] {
        let [m0, m1] = self.marker.to_be_bytes();
        let [s0, s1] = self.socket.to_be_bytes();
        [m0, m1, s0, s1]
    }

    /// A factory of connection ID generators for quinn's endpoint configuration.
    pub(crate) fn generator(self) -> impl Fn() -> Box<dyn ConnectionIdGenerator> + Send + Sync + 'static {
        move || Box::new(SteeredIds { prefix: self.prefix() })
    }
}

/// Tails of connection IDs when the system has no randomness to give.
static FALLBACK: AtomicU64 = AtomicU64::new(0);

/// Issues connection IDs that carry a [`Steering`] prefix.
#[derive(Debug)]
struct SteeredIds {
    prefix: [u8; 4],
}

impl ConnectionIdGenerator for SteeredIds {
    fn generate_cid(&mut self) -> ConnectionId {
        let mut bytes = [0u8; STEERED_CID_LEN];
        bytes[..4].copy_from_slice(&self.prefix);
        // The random tail keeps IDs unguessable and unlinkable to one another (RFC 9000 §5.1);
        // quinn draws again on the rare collision with an ID in use.
        let random = rustls::crypto::ring::default_provider()
            .secure_random
            .fill(&mut bytes[4..]);
        if random.is_err() {
            // No system randomness (TLS would fail too): distinct IDs all the same, so quinn's
            // collision check never spins.
            let count = FALLBACK.fetch_add(1, Ordering::Relaxed);
            bytes[4..].copy_from_slice(&count.to_le_bytes());
        }
        ConnectionId::new(&bytes)
    }

    /// Short-header packets whose ID this worker did not issue are dropped without an answer:
    /// garbage, or a connection of another worker (its stateless reset would not be ours).
    fn validate(&self, cid: &ConnectionId) -> Result<(), InvalidCid> {
        if cid.len() == STEERED_CID_LEN && cid[..4] == self.prefix {
            Ok(())
        } else {
            Err(InvalidCid)
        }
    }

    fn cid_len(&self) -> usize {
        STEERED_CID_LEN
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_prefix_and_differ() {
        let steering = Steering {
            marker: 0xA1B2,
            socket: 0x0103,
        };
        assert_eq!(steering.prefix(), [0xA1, 0xB2, 0x01, 0x03]);
        let mut generator = (steering.generator())();
        let first = generator.generate_cid();
        let second = generator.generate_cid();
        assert_eq!(first.len(), STEERED_CID_LEN);
        assert_eq!(first[..4], [0xA1, 0xB2, 0x01, 0x03]);
        assert_ne!(first, second);
        assert!(generator.validate(&first).is_ok());
        assert_eq!(generator.cid_len(), STEERED_CID_LEN);
    }

    #[test]
    fn ids_of_another_socket_or_length_are_invalid() {
        let mine = (Steering { marker: 7, socket: 1 }.generator())();
        let mut other = (Steering { marker: 7, socket: 2 }.generator())();
        assert!(mine.validate(&other.generate_cid()).is_err());
        assert!(mine.validate(&ConnectionId::new(&[0, 7, 0, 1])).is_err());
    }
}
