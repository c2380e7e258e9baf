#!/usr/bin/env python3
"""The official Azure SDK for Python's Key Vault clients against `entraform sandbox serve --tls`,
unmodified: import, get, versions, the backing secret (PFX with a blank password, key included),
soft delete, get deleted, recover, delete again, purge.

Not part of CI (it needs PyPI). Run by hand:

    python3 -m venv /tmp/kv-sdk && /tmp/kv-sdk/bin/pip install \
        azure-keyvault-certificates==4.12.0 azure-keyvault-secrets==4.12.0 azure-identity
    cargo build && /tmp/kv-sdk/bin/python tests/sdk/keyvault_python.py target/debug/entraform

What the SDK is told, and why: the CA file the sandbox wrote (REQUESTS_CA_BUNDLE), the
sandbox as the authority (ClientSecretCredential's `authority`, with instance discovery off so
MSAL does not ask login.microsoftonline.com about it), and
`verify_challenge_resource=False`, because the vault is addressed by path on 127.0.0.1, which is
not under `vault.azure.net` (the sandbox's challenge names the real resource, as Key Vault's
does). Nothing else.
"""

import base64
import datetime
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import NameOID


def new_pfx(cn: str, password: bytes) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        cn.encode(), key, cert, None, BestAvailableEncryption(password)
    )


def main() -> int:
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/debug/entraform"
    state_dir = tempfile.mkdtemp()
    server = subprocess.Popen(
        [binary, "sandbox", "serve", "--tls", "--json", "--state", os.path.join(state_dir, "sandbox.json")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(server.stdout.readline())
        os.environ["REQUESTS_CA_BUNDLE"] = info["ca_certificate"]

        from azure.identity import ClientSecretCredential
        from azure.keyvault.certificates import CertificateClient
        from azure.keyvault.secrets import SecretClient

        credential = ClientSecretCredential(
            info["tenant_id"],
            info["client_id"],
            info["client_secret"],
            authority=info["authority_url"],
            # MSAL would otherwise ask login.microsoftonline.com whether the authority is known.
            disable_instance_discovery=True,
        )
        vault_url = info["key_vault_url"].replace("{vault}", "kv-sdk")
        certs = CertificateClient(vault_url, credential, verify_challenge_resource=False)
        secrets = SecretClient(vault_url, credential, verify_challenge_resource=False)

        first = certs.import_certificate("sdk-cert", new_pfx("sdk-one", b"pw1"), password="pw1")
        print(f"import: version {first.properties.version}, x5t {first.properties.x509_thumbprint.hex()}")
        second = certs.import_certificate("sdk-cert", new_pfx("sdk-two", b"pw2"), password="pw2")
        latest = certs.get_certificate("sdk-cert")
        assert latest.properties.version == second.properties.version, "latest is the second import"
        assert latest.policy.issuer_name == "Unknown", latest.policy.issuer_name
        versions = list(certs.list_properties_of_certificate_versions("sdk-cert"))
        assert len(versions) == 2, versions
        by_version = certs.get_certificate_version("sdk-cert", first.properties.version)
        assert by_version.cer == first.cer
        print(f"get / versions: {len(versions)} versions, latest {latest.properties.version}")

        secret = secrets.get_secret("sdk-cert")
        assert secret.properties.content_type == "application/x-pkcs12"
        key, cert, _ = pkcs12.load_key_and_certificates(base64.b64decode(secret.value), None)
        assert key is not None and cert.subject.rfc4514_string() == "CN=sdk-two"
        print("secret: PFX with a blank password, private key included")

        certs.begin_delete_certificate("sdk-cert").wait()
        deleted = certs.get_deleted_certificate("sdk-cert")
        print(f"delete: recovery id {deleted.recovery_id}")
        certs.begin_recover_deleted_certificate("sdk-cert").wait()
        assert certs.get_certificate("sdk-cert").properties.version == second.properties.version
        certs.begin_delete_certificate("sdk-cert").wait()
        certs.purge_deleted_certificate("sdk-cert")
        print("recover, delete, purge: done")
        print("OK: azure-keyvault-certificates and azure-keyvault-secrets work against the sandbox unmodified")
        return 0
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
