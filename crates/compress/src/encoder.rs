use std::io::{self, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::Encoding;

/// Gzip level 6: zlib's default, the usual balance for on-the-fly compression.
const GZIP_LEVEL: u32 = 6;
/// Brotli quality 4: about gzip's speed with a better ratio; the top qualities are for
/// precompressed assets, far too slow per request.
const BROTLI_QUALITY: u32 = 4;
/// Brotli window of 2^22 bytes (4 MiB), the format's usual default.
const BROTLI_WINDOW: u32 = 22;
/// Brotli's internal output buffer.
const BROTLI_BUFFER: usize = 4096;
/// Zstandard level 3: the library's default.
const ZSTD_LEVEL: i32 = 3;

/// One compressor, writing into a buffer the caller drains as it goes.
pub(crate) enum Encoder {
    Gzip(GzEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
}

impl Encoder {
    pub(crate) fn new(encoding: Encoding) -> io::Result<Self> {
        Ok(match encoding {
            Encoding::Gzip => Self::Gzip(GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL))),
            Encoding::Brotli => Self::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER,
                BROTLI_QUALITY,
                BROTLI_WINDOW,
            ))),
            Encoding::Zstd => Self::Zstd(zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?),
        })
    }

    /// Compress `data`; the output may stay inside the compressor until [`Encoder::flush`].
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Self::Gzip(encoder) => encoder.write_all(data),
            Self::Brotli(encoder) => encoder.write_all(data),
            Self::Zstd(encoder) => encoder.write_all(data),
        }
    }

    /// Push everything written so far to the output, so the client can decode it now.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Gzip(encoder) => encoder.flush(),
            Self::Brotli(encoder) => encoder.flush(),
            Self::Zstd(encoder) => encoder.flush(),
        }
    }

    /// How many compressed bytes wait to be taken.
    pub(crate) fn buffered(&self) -> usize {
        match self {
            Self::Gzip(encoder) => encoder.get_ref().len(),
            Self::Brotli(encoder) => encoder.get_ref().len(),
            Self::Zstd(encoder) => encoder.get_ref().len(),
        }
    }

    /// The compressed bytes produced so far.
    pub(crate) fn take(&mut self) -> Bytes {
        // The compressors only ever append to their output, so draining it between writes is
        // safe.
        let output = match self {
            Self::Gzip(encoder) => encoder.get_mut(),
            Self::Brotli(encoder) => encoder.get_mut(),
            Self::Zstd(encoder) => encoder.get_mut(),
        };
        Bytes::from(std::mem::take(output))
    }

    /// End the stream: the compressed bytes not taken yet, trailer included.
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        let output = match self {
            Self::Gzip(encoder) => encoder.finish()?,
            Self::Brotli(encoder) => encoder.into_inner(),
            Self::Zstd(encoder) => encoder.finish()?,
        };
        Ok(Bytes::from(output))
    }
}

/// Compress `data` in one go.
pub(crate) fn compress(encoding: Encoding, data: &[u8]) -> io::Result<Bytes> {
    let mut encoder = Encoder::new(encoding)?;
    encoder.write(data)?;
    encoder.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Read;

    use super::*;

    pub(crate) fn decode(encoding: Encoding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match encoding {
            Encoding::Gzip => {
                flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
            }
            Encoding::Brotli => {
                brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap();
            }
            Encoding::Zstd => {
                out = zstd::stream::decode_all(data).unwrap();
            }
        }
        out
    }

    #[test]
    fn one_shot_round_trips() {
        let text = b"hello compression ".repeat(200);
        for encoding in Encoding::ALL {
            let compressed = compress(encoding, &text).unwrap();
            assert!(compressed.len() < text.len() / 4, "{encoding:?}");
            assert_eq!(decode(encoding, &compressed), text, "{encoding:?}");
        }
    }

    #[test]
    fn flushed_parts_decode_as_they_come() {
        for encoding in Encoding::ALL {
            let mut encoder = Encoder::new(encoding).unwrap();
            let mut stream = Vec::new();
            encoder.write(b"first part, ").unwrap();
            encoder.flush().unwrap();
            stream.extend_from_slice(&encoder.take());
            // What was flushed decodes to the first part already (a streaming decoder would show
            // it before the end).
            let mut partial = Vec::new();
            if encoding == Encoding::Gzip {
                let mut decoder = flate2::write::GzDecoder::new(Vec::new());
                decoder.write_all(&stream).unwrap();
                decoder.flush().unwrap();
                partial = decoder.get_ref().clone();
            } else if encoding == Encoding::Brotli {
                let mut decoder = brotli::DecompressorWriter::new(Vec::new(), 4096);
                decoder.write_all(&stream).unwrap();
                decoder.flush().unwrap();
                partial = decoder.get_ref().clone();
            } else {
                let mut decoder = zstd::stream::write::Decoder::new(Vec::new()).unwrap();
                decoder.write_all(&stream).unwrap();
                decoder.flush().unwrap();
                partial.clone_from(decoder.get_ref());
            }
            assert_eq!(partial, b"first part, ", "{encoding:?}");
            encoder.write(b"second part").unwrap();
            stream.extend_from_slice(&encoder.finish().unwrap());
            assert_eq!(decode(encoding, &stream), b"first part, second part", "{encoding:?}");
        }
    }
}
