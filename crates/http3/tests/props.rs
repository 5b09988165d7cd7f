//! Property tests of the pure parts.

use std::time::Duration;

use granian_http3::alt_svc;
use proptest::prelude::*;

/// Read an `Alt-Svc` value of the one form [`alt_svc`] writes back into its port and max age.
fn parse(value: &str) -> Option<(u16, u64)> {
    let rest = value.strip_prefix("h3=\":")?;
    let (port, rest) = rest.split_once('"')?;
    let max_age = rest.strip_prefix("; ma=")?;
    Some((port.parse().ok()?, max_age.parse().ok()?))
}

proptest! {
    #[test]
    fn alt_svc_round_trips(port in any::<u16>(), seconds in any::<u32>(), nanos in 0u32..1_000_000_000) {
        let value = alt_svc(port, Duration::new(u64::from(seconds), nanos));
        let text = value.to_str().unwrap();
        prop_assert_eq!(parse(text), Some((port, u64::from(seconds))));
    }
}
