"""Certificates generated per run for the TLS tests (trustme): a CA, a server certificate for
127.0.0.1 and localhost (its key also written encrypted), a client certificate from the CA, one
from a CA the server does not trust, a second client certificate from the CA that its
certificate revocation list revokes, and an older revocation list of that CA that revokes nothing."""

from __future__ import annotations

import dataclasses
import datetime
import ssl
from pathlib import Path

import httpx
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

KEY_PASSWORD = 'correct horse'


@dataclasses.dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path
    encrypted_key: Path
    client_cert: Path
    client_key: Path
    other_client_cert: Path
    other_client_key: Path
    revoked_client_cert: Path
    revoked_client_key: Path
    # PEM revocation lists of the CA: one revoking `revoked_client_cert`, and an older one
    # revoking nothing.
    crl: Path
    empty_crl: Path

    def context(
        self, *, client: bool = False, other_client: bool = False, revoked_client: bool = False
    ) -> ssl.SSLContext:
        """A client context trusting the CA, presenting a client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if client:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        if other_client:
            context.load_cert_chain(str(self.other_client_cert), str(self.other_client_key))
        if revoked_client:
            context.load_cert_chain(str(self.revoked_client_cert), str(self.revoked_client_key))
        return context

    def client(self, port: int, *, http2: bool = False, **context: bool) -> httpx.Client:
        return httpx.Client(
            base_url=f'https://127.0.0.1:{port}', verify=self.context(**context), http2=http2, timeout=10.0
        )


def revocation_list(ca: trustme.CA, revoked: list[trustme.LeafCert], *, age: datetime.timedelta) -> bytes:
    """A PEM CRL signed by `ca`, issued `age` ago, that revokes the certificates `revoked`."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    ca_key = serialization.load_pem_private_key(ca.private_key_pem.bytes(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - age)
        .next_update(now + datetime.timedelta(days=30))
        # RFC 5280 §5.2.3: conforming issuers include a CRL number (rustls requires it).
        .add_extension(x509.CRLNumber(len(revoked) + 1), critical=False)
    )
    for leaf in revoked:
        serial = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).serial_number
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        builder = builder.add_revoked_certificate(entry)
    crl = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    return crl.public_bytes(serialization.Encoding.PEM)


def make_certs(root: Path) -> Certs:
    """Generate every file in `root`."""
    ca = trustme.CA(organization_name='granian tests')
    server = ca.issue_cert('127.0.0.1', 'localhost')
    client = ca.issue_cert('client.granian.test', common_name='granian test client')
    revoked = ca.issue_cert('revoked.granian.test', common_name='granian revoked client')
    # A client certificate from a CA the server does not trust.
    stranger = trustme.CA().issue_cert('stranger.granian.test')

    ca.cert_pem.write_to_path(str(root / 'ca.pem'))
    server.private_key_pem.write_to_path(str(root / 'key.pem'))
    with open(root / 'cert.pem', 'wb') as chain:
        for blob in server.cert_chain_pems:
            chain.write(blob.bytes())
    key = serialization.load_pem_private_key(server.private_key_pem.bytes(), password=None)
    (root / 'key-encrypted.pem').write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
    client.private_key_pem.write_to_path(str(root / 'client-key.pem'))
    client.cert_chain_pems[0].write_to_path(str(root / 'client.pem'))
    stranger.private_key_pem.write_to_path(str(root / 'stranger-key.pem'))
    stranger.cert_chain_pems[0].write_to_path(str(root / 'stranger.pem'))
    revoked.private_key_pem.write_to_path(str(root / 'revoked-key.pem'))
    revoked.cert_chain_pems[0].write_to_path(str(root / 'revoked.pem'))
    (root / 'crl.pem').write_bytes(revocation_list(ca, [revoked], age=datetime.timedelta(hours=1)))
    (root / 'empty-crl.pem').write_bytes(revocation_list(ca, [], age=datetime.timedelta(days=2)))
    return Certs(
        ca=root / 'ca.pem',
        cert=root / 'cert.pem',
        key=root / 'key.pem',
        encrypted_key=root / 'key-encrypted.pem',
        client_cert=root / 'client.pem',
        client_key=root / 'client-key.pem',
        other_client_cert=root / 'stranger.pem',
        other_client_key=root / 'stranger-key.pem',
        revoked_client_cert=root / 'revoked.pem',
        revoked_client_key=root / 'revoked-key.pem',
        crl=root / 'crl.pem',
        empty_crl=root / 'empty-crl.pem',
    )
