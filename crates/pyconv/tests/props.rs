//! Path decoding: encoding any bytes and decoding them gives the bytes back.

use granian_pyconv::percent_decode;
use proptest::collection::vec;
use proptest::prelude::*;

fn encode(input: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for byte in input {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(byte) {
            out.push(*byte);
        } else if upper {
            out.extend(format!("%{byte:02X}").into_bytes());
        } else {
            out.extend(format!("%{byte:02x}").into_bytes());
        }
    }
    out
}

proptest! {
    #[test]
    fn decode_inverts_encode(input in vec(any::<u8>(), 0..256), upper in any::<bool>()) {
        prop_assert_eq!(percent_decode(&encode(&input, upper)).into_owned(), input);
    }

    #[test]
    fn decoding_never_grows(input in vec(any::<u8>(), 0..256)) {
        prop_assert!(percent_decode(&input).len() <= input.len());
    }
}
