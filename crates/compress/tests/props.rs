//! Properties of the `Accept-Encoding` negotiation: any field a peer sends yields an answer,
//! never a panic, and the answer respects what the client refused.

use granian_compress::{Encoding, negotiate};
use http::HeaderValue;
use proptest::prelude::*;
use proptest::sample::subsequence;

/// Field text built from the pieces `Accept-Encoding` is made of, plus noise.
fn field() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("gzip".to_owned()),
        Just("br".to_owned()),
        Just("zstd".to_owned()),
        Just("identity".to_owned()),
        Just("*".to_owned()),
        Just("deflate".to_owned()),
        "[a-zA-Z*-]{0,8}",
    ];
    let weight = prop_oneof![
        Just(String::new()),
        (0u32..=1000).prop_map(|q| format!(";q={}.{:03}", q / 1000, q % 1000)),
        "[ ;=qQ0-9.]{0,8}",
    ];
    prop::collection::vec((token, weight), 0..8).prop_map(|elements| {
        elements
            .into_iter()
            .map(|(token, weight)| format!("{token}{weight}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            let _ = negotiate([&value], &Encoding::ALL);
        }
    }

    #[test]
    fn answer_is_offered(text in field(), offered in subsequence(Encoding::ALL.to_vec(), 0..=3)) {
        let value = HeaderValue::from_str(&text).unwrap();
        if let Some(chosen) = negotiate([&value], &offered) {
            prop_assert!(offered.contains(&chosen));
        }
    }

    #[test]
    fn refused_codings_never_chosen(
        noise in field(),
        refused in subsequence(Encoding::ALL.to_vec(), 0..=3),
    ) {
        // The noise may weigh `*` but names none of our codings; the refusals name them.
        let noise: Vec<&str> = noise
            .split(", ")
            .filter(|element| {
                let token = element.split(';').next().unwrap_or_default().trim();
                !["gzip", "x-gzip", "br", "zstd"].iter().any(|ours| token.eq_ignore_ascii_case(ours))
            })
            .collect();
        let refusals = refused.iter().map(|encoding| format!("{};q=0", encoding.as_str()));
        let text = noise.into_iter().map(str::to_owned).chain(refusals).collect::<Vec<_>>().join(", ");
        let value = HeaderValue::from_str(&text).unwrap();
        if let Some(chosen) = negotiate([&value], &Encoding::ALL) {
            prop_assert!(!refused.contains(&chosen), "{text:?} chose {chosen:?}");
        }
    }

    #[test]
    fn plain_listing_picks_first_offered(offered in subsequence(Encoding::ALL.to_vec(), 1..=3)) {
        let text = Encoding::ALL.iter().map(|encoding| encoding.as_str()).collect::<Vec<_>>().join(", ");
        let value = HeaderValue::from_str(&text).unwrap();
        prop_assert_eq!(negotiate([&value], &offered), Some(offered[0]));
    }
}
