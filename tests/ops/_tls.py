"""Certificates generated per run for the TLS tests (trustme): a CA, a server certificate for
127.0.0.1 and localhost (its key also written encrypted), a client certificate from the CA and
one from a CA the server does not trust."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import httpx
import trustme
from cryptography.hazmat.primitives import serialization

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

    def context(self, *, client: bool = False, other_client: bool = False) -> ssl.SSLContext:
        """A client context trusting the CA, presenting a client certificate if asked."""
        context = ssl.create_default_context(cafile=str(self.ca))
        if client:
            context.load_cert_chain(str(self.client_cert), str(self.client_key))
        if other_client:
            context.load_cert_chain(str(self.other_client_cert), str(self.other_client_key))
        return context

    def client(self, port: int, *, http2: bool = False, **context: bool) -> httpx.Client:
        return httpx.Client(
            base_url=f'https://127.0.0.1:{port}', verify=self.context(**context), http2=http2, timeout=10.0
        )


def make_certs(root: Path) -> Certs:
    """Generate every file in `root`."""
    ca = trustme.CA(organization_name='granian tests')
    server = ca.issue_cert('127.0.0.1', 'localhost')
    client = ca.issue_cert('client.granian.test', common_name='granian test client')
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
    return Certs(
        ca=root / 'ca.pem',
        cert=root / 'cert.pem',
        key=root / 'key.pem',
        encrypted_key=root / 'key-encrypted.pem',
        client_cert=root / 'client.pem',
        client_key=root / 'client-key.pem',
        other_client_cert=root / 'stranger.pem',
        other_client_key=root / 'stranger-key.pem',
    )
