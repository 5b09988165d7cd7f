//! Preface detection: whatever the split of the first bytes, the verdict and the replayed
//! stream are the same as for the bytes taken whole.

use granian_dispatch::{Sniffed, classify, sniff};
use granian_http2::PREFACE;
use proptest::collection::vec;
use proptest::prelude::*;
use tokio::io::AsyncReadExt;

fn verdict(input: &[u8]) -> Sniffed {
    classify(input).unwrap_or(Sniffed::Http1)
}

proptest! {
    #[test]
    fn sniff_replays_everything(tail in vec(any::<u8>(), 0..256), h2 in any::<bool>(), split in 0usize..64) {
        let mut input = if h2 { PREFACE.to_vec() } else { Vec::new() };
        input.extend_from_slice(&tail);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (sniffed, replayed) = runtime.block_on(async {
            let split = split.min(input.len());
            let (a, b) = input.split_at(split);
            let (sniffed, mut io) = sniff(a.chain(b)).await.unwrap();
            let mut out = Vec::new();
            io.read_to_end(&mut out).await.unwrap();
            (sniffed, out)
        });
        prop_assert_eq!(&replayed, &input);
        prop_assert_eq!(sniffed, verdict(&input[..input.len().min(PREFACE.len())]));
        if h2 {
            prop_assert_eq!(sniffed, Sniffed::Http2);
        }
    }

    #[test]
    fn non_preface_is_http1(first in any::<u8>().prop_filter("not P", |b| *b != b'P')) {
        prop_assert_eq!(classify(&[first]), Some(Sniffed::Http1));
    }
}
