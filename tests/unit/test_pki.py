from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from plumbline.local.pki import write_pki


def test_pki_chains_to_its_ca_and_names_loopback(tmp_path: Path) -> None:
    pki = write_pki(tmp_path, service_ip="10.0.0.1")
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    admin = x509.load_pem_x509_certificate(pki.admin_cert.read_bytes())

    for leaf in (serving, admin):
        leaf.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.0.0.1"}
    groups = [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["system:masters"]
    assert oct(pki.admin_key.stat().st_mode & 0o777) == "0o600"
