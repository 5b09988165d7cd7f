//! Round trips through a real connection: what goes in as a request body comes back as the
//! response body, however it was framed.

use granian_http1::fuzzing::serve_bytes;
use proptest::collection::vec;
use proptest::prelude::*;

fn encode_chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut wire = Vec::new();
    for chunk in body.chunks(size) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

/// The body of the first response in `wire`, framed by its content-length.
fn first_body(wire: &[u8]) -> Option<Vec<u8>> {
    let head_end = wire.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&wire[..head_end]).ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))?
        .trim()
        .parse()
        .ok()?;
    wire.get(head_end..head_end + length).map(<[u8]>::to_vec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunked_round_trips(body in vec(any::<u8>(), 0..4096), size in 1usize..512) {
        let mut request = b"POST /echo HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        request.extend(encode_chunked(&body, size));
        let response = serve_bytes(&request);
        prop_assert_eq!(first_body(&response), Some(body));
    }

    #[test]
    fn content_length_round_trips(body in vec(any::<u8>(), 0..4096)) {
        let mut request = format!("POST /echo HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
        request.extend_from_slice(&body);
        let response = serve_bytes(&request);
        prop_assert_eq!(first_body(&response), Some(body));
    }

    #[test]
    fn pipelined_requests_answered_in_order(bodies in vec(vec(any::<u8>(), 1..64), 1..6)) {
        let mut request = Vec::new();
        for body in &bodies {
            request.extend(format!("POST / HTTP/1.1\r\nhost: t\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes());
            request.extend_from_slice(body);
        }
        let mut response = serve_bytes(&request);
        for body in &bodies {
            let got = first_body(&response);
            prop_assert_eq!(got.as_ref(), Some(body));
            let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            response.drain(..head_end + body.len());
        }
        prop_assert!(response.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in vec(any::<u8>(), 0..2048)) {
        let response = serve_bytes(&input);
        prop_assert!(response.is_empty() || response.starts_with(b"HTTP/1.1 "));
    }
}
