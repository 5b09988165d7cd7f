use std::time::Duration;

use http::HeaderValue;

/// How long a client may remember an [`alt_svc`] advertisement when the server has no reason to
/// pick another: a day, as most servers advertise.
pub const ALT_SVC_MAX_AGE: Duration = Duration::from_hours(24);

/// The `Alt-Svc` value (RFC 7838 §3) a TCP response carries to tell a client that HTTP/3 is
/// served on UDP `port` of the same host, for `max_age` (whole seconds): `h3=":443"; ma=86400`.
#[must_use]
pub fn alt_svc(port: u16, max_age: Duration) -> HeaderValue {
    let value = format!("h3=\":{port}\"; ma={}", max_age.as_secs());
    HeaderValue::try_from(value).expect("digits, quotes and ASCII punctuation make a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertises_the_port_for_a_day() {
        assert_eq!(alt_svc(443, ALT_SVC_MAX_AGE), "h3=\":443\"; ma=86400");
        assert_eq!(alt_svc(8443, Duration::from_millis(1500)), "h3=\":8443\"; ma=1");
    }
}
