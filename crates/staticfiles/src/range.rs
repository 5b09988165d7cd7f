/// What a `Range` header asks of a representation `len` bytes long (RFC 9110 §14).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranged {
    /// Serve the whole representation: no header, one that is not `bytes=` or is malformed
    /// (§14.2: ignored), or several ranges (a whole file is simpler than `multipart/byteranges`
    /// and always correct).
    Full,
    /// One range, `start..=end`, within the representation.
    Part {
        /// The first byte.
        start: u64,
        /// The last byte, inclusive.
        end: u64,
    },
    /// One range starting past the end: 416.
    Unsatisfiable,
}

/// Parse a `Range` header value against a representation of `len` bytes.
pub(crate) fn parse_range(header: &[u8], len: u64) -> Ranged {
    let Ok(text) = std::str::from_utf8(header) else {
        return Ranged::Full;
    };
    let Some((unit, spec)) = text.trim().split_once('=') else {
        return Ranged::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return Ranged::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ranged::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        // `-N`: the last N bytes.
        let Some(suffix) = number(last) else {
            return Ranged::Full;
        };
        if suffix == 0 || len == 0 {
            return Ranged::Unsatisfiable;
        }
        return Ranged::Part {
            start: len.saturating_sub(suffix),
            end: len - 1,
        };
    }
    let Some(start) = number(first) else {
        return Ranged::Full;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return Ranged::Full,
        }
    };
    if start >= len {
        return Ranged::Unsatisfiable;
    }
    Ranged::Part {
        start,
        end: end.min(len - 1),
    }
}

/// Digits only (no sign, no spaces inside), as `1*DIGIT` in the grammar.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_forms_of_one_range() {
        assert_eq!(parse_range(b"bytes=0-9", 100), Ranged::Part { start: 0, end: 9 });
        assert_eq!(parse_range(b"bytes=90-", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(parse_range(b"bytes=90-1000", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(parse_range(b"bytes=-10", 100), Ranged::Part { start: 90, end: 99 });
        assert_eq!(parse_range(b"bytes=-1000", 100), Ranged::Part { start: 0, end: 99 });
        assert_eq!(parse_range(b"Bytes = 5-5", 100), Ranged::Part { start: 5, end: 5 });
    }

    #[test]
    fn unsatisfiable_and_ignored() {
        assert_eq!(parse_range(b"bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=100-200", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-", 0), Ranged::Unsatisfiable);
        assert_eq!(parse_range(b"bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(parse_range(b"bytes=5-1", 100), Ranged::Full);
        assert_eq!(parse_range(b"items=0-1", 100), Ranged::Full);
        assert_eq!(parse_range(b"bytes=a-b", 100), Ranged::Full);
        assert_eq!(parse_range(b"bytes=+1-2", 100), Ranged::Full);
        assert_eq!(parse_range(b"bytes=-", 100), Ranged::Full);
        assert_eq!(parse_range(b"bytes=99999999999999999999-", 100), Ranged::Full);
        assert_eq!(parse_range(b"\xff", 100), Ranged::Full);
    }

    proptest! {
        #[test]
        fn any_input_is_safe(header in proptest::collection::vec(any::<u8>(), 0..64), len in any::<u64>()) {
            if let Ranged::Part { start, end } = parse_range(&header, len) {
                prop_assert!(start <= end && end < len);
            }
        }

        #[test]
        fn written_ranges_round_trip(len in 1u64..1 << 40, a in any::<u64>(), b in any::<u64>()) {
            let (start, end) = (a.min(b) % len, a.max(b) % len);
            let (start, end) = (start.min(end), start.max(end));
            let header = format!("bytes={start}-{end}");
            prop_assert_eq!(parse_range(header.as_bytes(), len), Ranged::Part { start, end });
        }

        #[test]
        fn suffixes_end_at_the_last_byte(len in 1u64..1 << 40, suffix in 1u64..1 << 41) {
            let header = format!("bytes=-{suffix}");
            prop_assert_eq!(
                parse_range(header.as_bytes(), len),
                Ranged::Part { start: len.saturating_sub(suffix), end: len - 1 }
            );
        }

        #[test]
        fn starts_past_the_end_are_unsatisfiable(len in 0u64..1 << 40, past in 0u64..1 << 20) {
            let header = format!("bytes={}-", len + past);
            prop_assert_eq!(parse_range(header.as_bytes(), len), Ranged::Unsatisfiable);
        }
    }
}
