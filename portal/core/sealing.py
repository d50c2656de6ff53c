"""The instance's seal: a PAdES signature (pyHanko) over a finished PDF.

``create_seal_key`` makes a key and a self-signed certificate once (``flask evidence
create-seal-key``; ``dev.py run`` calls it); a real key and certificate are configured
with ``SEAL_KEY_PATH``, ``SEAL_CERT_PATH`` and ``SEAL_KEY_PASSPHRASE``. ``seal`` signs
a document once; ``validate`` checks a sealed document against this instance's
certificate (only for files we made: untrusted uploads are matched by hash, never
parsed).
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)


class SealUnavailable(RuntimeError):
    """No usable seal key and certificate (not created, unreadable, wrong passphrase)."""


def _paths() -> tuple[Path, Path, bytes | None]:
    config = current_app.config
    passphrase = config.get("SEAL_KEY_PASSPHRASE")
    return (
        Path(config["SEAL_KEY_PATH"]),
        Path(config["SEAL_CERT_PATH"]),
        passphrase.encode() if isinstance(passphrase, str) else passphrase,
    )


def create_seal_key(common_name: str, organization: str, years: int = 10) -> bool:
    """Write a new RSA key and a self-signed certificate where the settings say, unless
    both exist already (idempotent). Returns whether it made them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key_path, cert_path, passphrase = _paths()
    if key_path.exists() and cert_path.exists():
        return False
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    key_path.chmod(0o600)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


@dataclass(frozen=True)
class SealIdentity:
    """Who seals: the certificate's subject and its fingerprint (this instance's id)."""

    subject: str
    fingerprint: str  # SHA-256 of the DER certificate, hex


def identity() -> SealIdentity:
    """The configured certificate's subject and fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    _key, cert_path, _ = _paths()
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SealUnavailable(f"no seal certificate at {cert_path}: {exc}") from exc
    der = certificate.public_bytes(serialization.Encoding.DER)
    return SealIdentity(certificate.subject.rfc4514_string(), hashlib.sha256(der).hexdigest())


def _signer():
    from pyhanko.sign import signers

    key_path, cert_path, passphrase = _paths()
    if not key_path.exists() or not cert_path.exists():
        raise SealUnavailable(f"no seal key at {key_path} (run: flask --app portal evidence create-seal-key)")
    try:
        signer = signers.SimpleSigner.load(str(key_path), str(cert_path), key_passphrase=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise SealUnavailable(f"the seal key at {key_path} could not be loaded: {exc}") from exc
    if signer is None:  # pyHanko logs the reason (a wrong passphrase, a bad file)
        raise SealUnavailable(f"the seal key at {key_path} could not be loaded")
    return signer


def seal(pdf: bytes, reason: str, name: str) -> bytes:
    """``pdf`` with one PAdES (B-B) signature covering the whole file."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    signer = _signer()

    def sign() -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        metadata = signers.PdfSignatureMetadata(
            field_name="Seal", subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256", reason=reason, name=name
        )
        return signers.sign_pdf(writer, metadata, signer=signer).getvalue()

    return _outside_event_loop(sign)


def _outside_event_loop(work):
    """pyHanko's synchronous API runs its own asyncio loop, which fails in a thread that
    already runs one (an async server, Playwright's sync API in tests): run it in a
    short-lived thread then."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


@dataclass(frozen=True)
class SealCheck:
    intact: bool  # the signed bytes are unchanged
    trusted: bool  # signed by this instance's certificate
    covers_whole_file: bool
    summary: str


def validate(pdf: bytes) -> SealCheck:
    """Validate the seal of a PDF this instance made (stored copies, tests)."""
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    _key, cert_path, _ = _paths()
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(cert_path))])
    signatures = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    if len(signatures) != 1:
        return SealCheck(False, False, False, f"{len(signatures)} signatures")
    status = _outside_event_loop(lambda: validate_pdf_signature(signatures[0], context))
    return SealCheck(
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        summary=status.summary(),
    )
