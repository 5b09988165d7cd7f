//! PEM in and out: certificate chains and keys read from files (an encrypted PKCS#8 key is
//! decrypted here), and certificates written back as PEM text for the ASGI `tls` extension.

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use x509_cert::der::Decode;

use crate::Error;

const ENCRYPTED_BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const ENCRYPTED_END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

fn pem_error(what: &'static str, path: &Path, reason: impl Into<String>) -> Error {
    Error::Pem {
        what,
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Every section of kind `T` (its label `label`) of a PEM file, in order; at least one.
fn sections<T: PemObject>(what: &'static str, label: &str, path: &Path) -> Result<Vec<T>, Error> {
    let bytes = read(what, path)?;
    let found = T::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| pem_error(what, path, err.to_string()))?;
    if found.is_empty() {
        return Err(pem_error(what, path, format!("no {label} section found")));
    }
    Ok(found)
}

/// Every `CERTIFICATE` section of a PEM file, in order; at least one.
pub(crate) fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    sections(what, "CERTIFICATE", path)
}

/// When a revocation list was issued (its `thisUpdate`), as seconds since the epoch; `None` when
/// it does not parse (rustls then refuses it).
pub(crate) fn issued_at(crl: &CertificateRevocationListDer<'_>) -> Option<u64> {
    let list = x509_cert::crl::CertificateList::from_der(crl).ok()?;
    Some(list.tbs_cert_list.this_update.to_unix_duration().as_secs())
}

/// Every `X509 CRL` section of a PEM file, in order; at least one.
pub(crate) fn revocation_lists(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, Error> {
    sections("CRL", "X509 CRL", path)
}

/// The private key of a PEM file: PKCS#8 (plain or encrypted), PKCS#1 (RSA) or SEC1 (EC).
/// `password` decrypts an `ENCRYPTED PRIVATE KEY` and is ignored for a plain key.
pub(crate) fn private_key(path: &Path, password: Option<&str>) -> Result<PrivateKeyDer<'static>, Error> {
    let bytes = read("key", path)?;
    let text = String::from_utf8_lossy(&bytes);
    if let Some(body) = section(&text, ENCRYPTED_BEGIN, ENCRYPTED_END) {
        let password = password.ok_or_else(|| Error::PasswordNeeded { path: path.to_owned() })?;
        let der = decode_base64(body).ok_or_else(|| pem_error("key", path, "malformed base64"))?;
        return decrypt(&der, password)
            .map(|key| PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key)))
            .ok_or_else(|| Error::WrongPassword { path: path.to_owned() });
    }
    // OpenSSL's legacy encryption (RFC 1421 headers inside a PKCS#1 or SEC1 section).
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(pem_error(
            "key",
            path,
            "legacy OpenSSL key encryption is not supported: convert it to encrypted PKCS#8 \
             (openssl pkcs8 -topk8 -v2 aes-256-cbc)",
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|err| pem_error("key", path, format!("no private key found ({err})")))
}

/// PKCS#5 v2 (PBES2 with PBKDF2 or scrypt, AES-CBC) decryption of an `EncryptedPrivateKeyInfo`.
fn decrypt(der: &[u8], password: &str) -> Option<Vec<u8>> {
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der).ok()?;
    let document = info.decrypt(password).ok()?;
    // A wrong password usually fails the padding check; when it happens to pass, the plaintext
    // is not a PrivateKeyInfo.
    pkcs8::PrivateKeyInfo::try_from(document.as_bytes()).ok()?;
    Some(document.as_bytes().to_vec())
}

/// The base64 body between `begin` and `end`, if the text has such a section.
fn section<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    let stop = text[start..].find(end)? + start;
    Some(&text[start..stop])
}

fn base64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Standard base64 (RFC 4648 §4) with padding and line breaks ignored.
#[expect(
    clippy::cast_possible_truncation,
    reason = "`bits` holds fewer than 14 bits; the shift leaves 8"
)]
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut bits: u32 = 0;
    let mut count = 0;
    for &c in text.as_bytes() {
        if c.is_ascii_whitespace() || c == b'=' {
            continue;
        }
        bits = (bits << 6) | base64_value(c)?;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A DER certificate as PEM text (RFC 7468: 64-column base64 lines).
pub(crate) fn certificate_pem(der: &[u8]) -> String {
    let mut encoded = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            encoded.push(if i <= chunk.len() {
                ALPHABET[((n >> shift) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    let mut pem = String::with_capacity(encoded.len() + encoded.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The subject of a DER certificate as an RFC 4514 string, when it parses.
pub(crate) fn subject_name(der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    Some(cert.tbs_certificate.subject.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn data(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name)
    }

    #[test]
    fn revocation_lists_tell_when_they_were_issued() {
        let crls = revocation_lists(&data("crl.pem")).unwrap();
        // 2025-01-01T00:00:00Z.
        assert_eq!(crls.iter().map(issued_at).collect::<Vec<_>>(), [Some(1_735_689_600)]);
        assert_eq!(issued_at(&CertificateRevocationListDer::from(vec![0x30, 0x00])), None);
    }

    #[test]
    fn reads_plain_and_encrypted_keys_alike() {
        let plain = private_key(&data("key.pem"), None).unwrap();
        let decrypted = private_key(&data("key-encrypted.pem"), Some("secret")).unwrap();
        assert_eq!(plain.secret_der(), decrypted.secret_der());
        // A password given for a plain key is not needed and not an error.
        assert!(private_key(&data("key.pem"), Some("unused")).is_ok());
    }

    #[test]
    fn encrypted_key_errors_name_the_cause() {
        assert!(matches!(
            private_key(&data("key-encrypted.pem"), None),
            Err(Error::PasswordNeeded { .. })
        ));
        assert!(matches!(
            private_key(&data("key-encrypted.pem"), Some("wrong")),
            Err(Error::WrongPassword { .. })
        ));
        let legacy = private_key(&data("key-legacy-encrypted.pem"), Some("secret")).unwrap_err();
        assert!(legacy.to_string().contains("legacy"), "{legacy}");
        assert!(matches!(private_key(&data("cert.pem"), None), Err(Error::Pem { .. })));
        assert!(matches!(
            private_key(&data("missing.pem"), None),
            Err(Error::Read { .. })
        ));
    }

    #[test]
    fn reads_certificates() {
        assert_eq!(certificates("certificate", &data("cert.pem")).unwrap().len(), 1);
        assert!(matches!(
            certificates("certificate", &data("key.pem")),
            Err(Error::Pem { .. })
        ));
    }

    #[test]
    fn pem_round_trips() {
        let der = certificates("certificate", &data("cert.pem")).unwrap().remove(0);
        let pem = certificate_pem(&der);
        let again = CertificateDer::pem_slice_iter(pem.as_bytes()).next().unwrap().unwrap();
        assert_eq!(der, again);
        let text = std::fs::read_to_string(data("cert.pem")).unwrap();
        assert_eq!(pem, text);
        for len in 0..8 {
            let bytes: Vec<u8> = (0..len).map(|i| i * 37).collect();
            let pem = certificate_pem(&bytes);
            let body = section(&pem, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----").unwrap();
            assert_eq!(decode_base64(body).unwrap(), bytes);
        }
        assert_eq!(decode_base64("a*b"), None);
    }

    #[test]
    fn names_the_subject() {
        let der = certificates("certificate", &data("cert.pem")).unwrap().remove(0);
        let name = subject_name(&der).unwrap();
        assert!(name.contains("CN=localhost"), "{name}");
        assert!(name.contains("O=granian tests"), "{name}");
        assert_eq!(subject_name(b"not a certificate"), None);
    }

    /// A file holding `bytes` for the length of a test case.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(bytes: &[u8]) -> Self {
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let index = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("granian-pem-{}-{index}", std::process::id()));
            std::fs::write(&path, bytes).unwrap();
            Self(path)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// Every way PEM is read, on `bytes` as a file: a value or an error, never a panic.
    fn read_all_ways(bytes: &[u8], password: Option<&str>) {
        let file = Scratch::new(bytes);
        let _ = certificates("certificate", &file.0);
        let _ = private_key(&file.0, password);
        let _ = private_key(&file.0, None);
        let text = String::from_utf8_lossy(bytes);
        let _ = decode_base64(&text);
        let _ = section(&text, ENCRYPTED_BEGIN, ENCRYPTED_END);
        let _ = subject_name(bytes);
    }

    const LABELS: [&str; 6] = [
        "CERTIFICATE",
        "PRIVATE KEY",
        "ENCRYPTED PRIVATE KEY",
        "RSA PRIVATE KEY",
        "EC PRIVATE KEY",
        "X509 CRL",
    ];

    proptest! {
        #[test]
        fn any_bytes_are_read_without_a_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            password in proptest::option::of("[ -~]{0,12}"),
        ) {
            read_all_ways(&bytes, password.as_deref());
        }

        #[test]
        fn pem_shaped_noise_is_read_without_a_panic(
            label in 0..LABELS.len(),
            body in "[A-Za-z0-9+/=\n -]{0,400}",
            headers in proptest::option::of("Proc-Type: 4,ENCRYPTED\nDEK-Info: [A-Z0-9,-]{0,20}\n\n"),
            end in any::<bool>(),
        ) {
            let label = LABELS[label];
            let end = if end { format!("-----END {label}-----\n") } else { String::new() };
            let text = format!("-----BEGIN {label}-----\n{}{body}\n{end}", headers.unwrap_or_default());
            read_all_ways(text.as_bytes(), Some("secret"));
        }

        #[test]
        fn written_certificates_read_back(der in proptest::collection::vec(any::<u8>(), 1..3000)) {
            let pem = certificate_pem(&der);
            prop_assert!(pem.lines().all(|line| line.len() <= 64));
            let body = section(&pem, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----").unwrap();
            prop_assert_eq!(decode_base64(body).unwrap(), der.clone());
            let parsed = CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
            prop_assert_eq!(parsed, vec![CertificateDer::from(der.clone())]);
            // The same read from a file, twice over in one chain.
            let file = Scratch::new(format!("{pem}{pem}").as_bytes());
            let chain = certificates("certificate", &file.0).unwrap();
            prop_assert_eq!(chain, vec![CertificateDer::from(der.clone()), CertificateDer::from(der)]);
        }

        #[test]
        fn base64_ignores_line_breaks_and_padding(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
            breaks in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let pem = certificate_pem(&bytes);
            let body = section(&pem, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----").unwrap();
            let mut text: Vec<char> = body.chars().filter(|c| !c.is_whitespace()).collect();
            for (n, index) in breaks.iter().enumerate() {
                let at = index.index(text.len() + 1);
                text.insert(at, if n % 2 == 0 { '\n' } else { ' ' });
            }
            let text: String = text.into_iter().collect();
            prop_assert_eq!(decode_base64(&text).unwrap(), bytes);
        }
    }
}
