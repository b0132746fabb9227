"""A throw-away certificate authority for tests: a CA, a broker certificate for 127.0.0.1 and
client certificates, as PEM files (made with `cryptography`, nothing leaves the test's
directory)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Kafka's PEM key store reads PKCS#8 keys only ("BEGIN PRIVATE KEY").
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ThrowawayCa:
    """A CA with its key, writing PEM files into `directory`."""

    directory: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @classmethod
    def create(cls, directory: Path, name: str = "Candour test CA") -> ThrowawayCa:
        directory.mkdir(parents=True, exist_ok=True)
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        ca = cls(directory, key, cert)
        ca.cafile.write_bytes(_pem(cert))
        return ca

    @property
    def cafile(self) -> Path:
        return self.directory / "ca.pem"

    def _issue(
        self, common_name: str, *, server: bool
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        x509.DNSName("localhost"),
                    ]
                ),
                critical=False,
            )
        return key, builder.sign(self.key, hashes.SHA256())

    def broker_keystore(self, name: str = "broker") -> Path:
        """One PEM file with the broker's key and certificate chain (Kafka's PEM key store)."""
        key, cert = self._issue(name, server=True)
        path = self.directory / f"{name}-keystore.pem"
        path.write_bytes(_pkcs8(key) + _pem(cert) + _pem(self.cert))
        return path

    def client_certificate(self, name: str) -> tuple[Path, Path]:
        """A client certificate and its key (PEM files) for `name`."""
        key, cert = self._issue(name, server=False)
        certfile = self.directory / f"{name}.crt"
        keyfile = self.directory / f"{name}.key"
        certfile.write_bytes(_pem(cert) + _pem(self.cert))
        keyfile.write_bytes(_pkcs8(key))
        keyfile.chmod(0o600)
        return certfile, keyfile
