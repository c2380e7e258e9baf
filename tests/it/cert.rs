//! Certificates: generation, PFX round trips, sign-in certificates, JWTs, refusals, files.
//! OpenSSL's view of the same files is in `cert_openssl.rs`.

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entraform::cert::{
    self, AssertionAlg, CertError, ClientCertificate, GenerateRequest, GeneratedCertificate,
    PfxPassword,
};
use entraform::hint::Hint as _;
use entraform::model::{AppId, KeyType, ObjectId, Period, PfxEncryption, Thumbprint};
use sha1::Digest as _;
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer as _, X509Certificate};

pub const SUBJECT: &str = "CN=Exo_V2_App, O=Contoso, C=US";
pub const PASSWORD: &str = "correct horse battery staple";

/// One RSA 2048 certificate shared by the tests that only read it: key generation is the
/// slow part, and sharing it keeps the suite quick on two cores.
pub fn shared() -> &'static (GeneratedCertificate, OffsetDateTime) {
    static SHARED: OnceLock<(GeneratedCertificate, OffsetDateTime)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let now = OffsetDateTime::now_utc();
        (generate(SUBJECT, KeyType::Rsa2048, "365d", now), now)
    })
}

pub fn generate(
    subject: &str,
    key_type: KeyType,
    validity: &str,
    now: OffsetDateTime,
) -> GeneratedCertificate {
    cert::generate(&GenerateRequest {
        subject: subject.to_owned(),
        key_type,
        validity: validity.parse().unwrap(),
        now,
    })
    .unwrap()
}

pub fn password() -> PfxPassword {
    PfxPassword::new(PASSWORD).unwrap()
}

fn x509(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    cert
}

fn rsa_bits(der: &[u8]) -> usize {
    match x509(der).public_key().parsed().unwrap() {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let modulus = rsa.modulus;
            let modulus = &modulus[modulus.iter().position(|&b| b != 0).unwrap()..];
            modulus.len() * 8 - modulus[0].leading_zeros() as usize
        }
        other => panic!("not RSA: {other:?}"),
    }
}

fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 key, as `openssl rsa -traditional` writes it.
fn pkcs1(pkcs8: &[u8]) -> Vec<u8> {
    use der::Decode as _;
    pkcs12::safe_bag::PrivateKeyInfo::from_der(pkcs8)
        .unwrap()
        .private_key
        .as_bytes()
        .to_vec()
}

fn ecdsa_certificate_and_key() -> (Vec<u8>, Vec<u8>) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ecdsa");
    let cert = params.self_signed(&key).unwrap();
    (cert.der().to_vec(), key.serialize_der())
}

fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

// ---------------------------------------------------------------------------------------------
// Generation

#[test]
fn a_generated_certificate_has_exactly_the_requested_properties() {
    let (generated, now) = shared();
    let public = generated.certificate();
    let cert = x509(public.der());

    assert_eq!(cert.version(), x509_parser::x509::X509Version::V3);
    assert_eq!(cert.subject().to_string(), "C=US, O=Contoso, CN=Exo_V2_App");
    assert_eq!(cert.issuer(), cert.subject(), "self-signed");
    assert_eq!(
        public.subject(),
        SUBJECT,
        "reads back as the manifest wrote it"
    );
    assert!(!format!("{:?}", public.der()).is_empty());
    let der_text = String::from_utf8_lossy(public.der()).to_lowercase();
    assert!(!der_text.contains("rcgen"), "rcgen's default CN leaked");

    let whole_second = now.replace_nanosecond(0).unwrap();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    assert_eq!(not_before, whole_second - Duration::minutes(5));
    assert_eq!(not_after, whole_second + Duration::days(365));
    assert_eq!(public.not_before(), not_before);
    assert_eq!(public.not_after(), not_after);

    assert_eq!(rsa_bits(public.der()), 2048);
    assert_eq!(public.key_bits(), 2048);
    assert_eq!(
        cert.signature_algorithm.algorithm.to_id_string(),
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption"
    );

    let ku = cert.key_usage().unwrap().expect("key usage present");
    assert!(ku.critical);
    assert!(ku.value.digital_signature() && ku.value.key_encipherment());
    assert_eq!(
        ku.value.flags, 0b101,
        "digitalSignature + keyEncipherment only"
    );

    let eku = cert.extended_key_usage().unwrap().expect("EKU present");
    assert!(eku.value.client_auth);
    assert!(!eku.value.server_auth && !eku.value.any && eku.value.other.is_empty());

    let bc = cert
        .basic_constraints()
        .unwrap()
        .expect("basicConstraints present");
    assert!(!bc.value.ca, "CA:false");

    let serial = cert.raw_serial();
    assert_eq!(serial.len(), 16);
    assert!(serial[0] & 0x80 == 0 && serial[0] != 0, "positive, minimal");
    assert_eq!(public.serial(), hex::encode_upper(serial));
}

#[test]
fn two_certificates_get_different_random_serials_and_keys() {
    let (first, now) = shared();
    let second = generate(SUBJECT, KeyType::Rsa2048, "365d", *now);
    assert_ne!(first.certificate().serial(), second.certificate().serial());
    assert_ne!(
        first.certificate().thumbprint(),
        second.certificate().thumbprint()
    );
    assert_ne!(
        first.private_key().expose_pkcs8_der(),
        second.private_key().expose_pkcs8_der()
    );
}

#[test]
fn rsa_3072_and_4096_keys_have_the_requested_size() {
    let now = OffsetDateTime::now_utc();
    for (key_type, bits) in [(KeyType::Rsa3072, 3072), (KeyType::Rsa4096, 4096)] {
        let generated = generate("CN=big", key_type, "30d", now);
        assert_eq!(rsa_bits(generated.certificate().der()), bits);
        assert_eq!(generated.certificate().key_bits(), bits as u32);
    }
}

#[test]
fn an_invalid_subject_is_refused_with_a_hint() {
    let err = cert::generate(&GenerateRequest {
        subject: "Exo_V2_App".to_owned(),
        key_type: KeyType::Rsa2048,
        validity: Period::from_days(1),
        now: OffsetDateTime::now_utc(),
    })
    .unwrap_err();
    assert!(matches!(err, CertError::InvalidSubject { .. }), "{err}");
    assert!(err.hint().unwrap().contains("CN=Exo_V2_App"));
}

#[test]
fn key_credential_pieces_match_the_certificate() {
    let (generated, _) = shared();
    let public = generated.certificate();
    let der = base64::engine::general_purpose::STANDARD
        .decode(public.key_base64())
        .unwrap();
    assert_eq!(der, public.der());
    let sha1: [u8; 20] = sha1::Sha1::digest(public.der()).into();
    assert_eq!(public.thumbprint(), Thumbprint(sha1));
    assert_eq!(public.thumbprint().to_hex(), hex::encode_upper(sha1));

    let cert = x509(public.der());
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let start = OffsetDateTime::parse(&public.start_date_time(), rfc3339).unwrap();
    let end = OffsetDateTime::parse(&public.end_date_time(), rfc3339).unwrap();
    assert_eq!(start, cert.validity().not_before.to_datetime());
    assert_eq!(end, cert.validity().not_after.to_datetime());
    assert!(public.start_date_time().ends_with('Z') && !public.start_date_time().contains('.'));
}

// ---------------------------------------------------------------------------------------------
// PFX round trips and sign-in certificates

#[test]
fn both_pfx_variants_load_back_with_the_same_certificate_and_a_working_key() {
    let (generated, _) = shared();
    let dir = tempfile::tempdir().unwrap();
    for encryption in [PfxEncryption::Aes256, PfxEncryption::Legacy3Des] {
        let pfx = cert::write_pfx(generated, &password(), encryption, "Exo app").unwrap();
        let path = write(dir.path(), &format!("{}.pfx", encryption.as_str()), &pfx);
        let loaded = cert::load_client_certificate(&path, Some(&password())).unwrap();
        assert_eq!(loaded.certificate().der(), generated.certificate().der());
        assert_eq!(
            loaded.private_key().expose_pkcs8_der(),
            generated.private_key().expose_pkcs8_der()
        );
        for alg in [AssertionAlg::Rs256, AssertionAlg::Ps256] {
            assert_assertion_verifies(&loaded, alg);
        }
    }
}

#[test]
fn a_generated_certificate_signs_in_without_a_file() {
    let (generated, _) = shared();
    let client: ClientCertificate = generated.to_client_certificate();
    assert_eq!(client.certificate(), generated.certificate());
    assert_assertion_verifies(&client, AssertionAlg::Rs256);
    let owned: ClientCertificate = generated.clone().into();
    assert_assertion_verifies(&owned, AssertionAlg::Ps256);
}

fn rsa_public_key(der: &[u8]) -> Vec<u8> {
    x509(der).public_key().subject_public_key.data.to_vec()
}

fn assert_assertion_verifies(client: &ClientCertificate, alg: AssertionAlg) {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let app: AppId = "3f76be04-5cf0-47f1-9df6-d05981a450fc".parse().unwrap();
    let endpoint = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
    let now = OffsetDateTime::now_utc();
    let jwt = cert::client_assertion(client, &app, endpoint, alg, now).unwrap();
    let token = jwt.expose_secret();

    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let der = client.certificate().der();
    match alg {
        AssertionAlg::Rs256 => {
            assert_eq!(header.alg, Algorithm::RS256);
            assert_eq!(
                header.x5t.as_deref(),
                Some(URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der)).as_str())
            );
            assert_eq!(header.x5t_s256, None);
        }
        AssertionAlg::Ps256 => {
            assert_eq!(header.alg, Algorithm::PS256);
            assert_eq!(
                header.x5t_s256.as_deref(),
                Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der)).as_str())
            );
            assert_eq!(header.x5t, None);
        }
    }

    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[endpoint]);
    validation.set_issuer(&[app.to_string()]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    validation.validate_nbf = true;
    let key = DecodingKey::from_rsa_der(&rsa_public_key(der));
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap()
        .claims;
    let t = now.unix_timestamp();
    assert_eq!(claims["sub"], app.to_string());
    assert_eq!(claims["nbf"], t);
    assert_eq!(claims["iat"], t);
    assert_eq!(claims["exp"], t + 600);
    uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).unwrap();
}

#[test]
fn assertions_get_a_fresh_jti_each_time() {
    let client = shared().0.to_client_certificate();
    let app = AppId(uuid::Uuid::new_v4());
    let now = OffsetDateTime::now_utc();
    let claims = |jwt: &cert::SignedJwt| -> serde_json::Value {
        let part = jwt.expose_secret().split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let a =
        cert::client_assertion(&client, &app, "https://x/token", AssertionAlg::Rs256, now).unwrap();
    let b =
        cert::client_assertion(&client, &app, "https://x/token", AssertionAlg::Rs256, now).unwrap();
    assert_ne!(claims(&a)["jti"], claims(&b)["jti"]);
}

#[test]
fn a_key_proof_is_rs256_for_the_graph_audience_and_the_application_object_id() {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let client = shared().0.to_client_certificate();
    let app_object: ObjectId = "aaaabbbb-0000-cccc-1111-dddd2222eeee".parse().unwrap();
    let now = OffsetDateTime::now_utc();
    let proof = cert::key_proof(&client, &app_object, now).unwrap();

    let header = jsonwebtoken::decode_header(proof.expose_secret()).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        header.x5t.as_deref(),
        Some(client.certificate().x5t().as_str())
    );

    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["00000002-0000-0000-c000-000000000000"]);
    validation.set_issuer(&[app_object.to_string()]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
    validation.validate_nbf = true;
    let key = DecodingKey::from_rsa_der(&rsa_public_key(client.certificate().der()));
    let claims =
        jsonwebtoken::decode::<serde_json::Value>(proof.expose_secret(), &key, &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["nbf"], now.unix_timestamp());
    assert_eq!(claims["exp"], now.unix_timestamp() + 600);
}

#[test]
fn pem_sign_in_certificates_load_with_pkcs8_or_pkcs1_keys_and_a_chain() {
    let (generated, _) = shared();
    let other = generate(
        "CN=some CA",
        KeyType::Rsa2048,
        "1d",
        OffsetDateTime::now_utc(),
    );
    let dir = tempfile::tempdir().unwrap();
    let key = generated.private_key().expose_pkcs8_der();
    let cert_pem = pem("CERTIFICATE", generated.certificate().der());
    let chain_pem = pem("CERTIFICATE", other.certificate().der());

    // Key first, chain certificate before the leaf: order must not matter.
    let pkcs8 = write(
        dir.path(),
        "pkcs8.pem",
        format!("{}{chain_pem}{cert_pem}", pem("PRIVATE KEY", key)),
    );
    let pkcs1 = write(
        dir.path(),
        "pkcs1.pem",
        format!("{cert_pem}{}", pem("RSA PRIVATE KEY", &pkcs1(key))),
    );
    for path in [pkcs8, pkcs1] {
        let loaded = cert::load_client_certificate(&path, None).unwrap();
        assert_eq!(loaded.certificate().der(), generated.certificate().der());
        assert_assertion_verifies(&loaded, AssertionAlg::Rs256);
    }

    let mismatched = write(
        dir.path(),
        "mismatched.pem",
        format!("{chain_pem}{}", pem("PRIVATE KEY", key)),
    );
    let err = cert::load_client_certificate(&mismatched, None).unwrap_err();
    assert!(matches!(err, CertError::KeyDoesNotMatch { .. }), "{err}");

    let no_key = write(dir.path(), "cert-only.pem", &cert_pem);
    let err = cert::load_client_certificate(&no_key, None).unwrap_err();
    assert!(matches!(err, CertError::NoPrivateKey { .. }), "{err}");
    assert!(err.hint().is_some());

    let encrypted = write(
        dir.path(),
        "encrypted.pem",
        format!("{cert_pem}{}", pem("ENCRYPTED PRIVATE KEY", b"\x30\x00")),
    );
    let err = cert::load_client_certificate(&encrypted, None).unwrap_err();
    assert!(
        matches!(err, CertError::EncryptedPrivateKey { .. }),
        "{err}"
    );

    let garbage = write(dir.path(), "garbage.bin", b"not a certificate");
    let err = cert::load_client_certificate(&garbage, None).unwrap_err();
    assert!(matches!(err, CertError::UnknownFormat { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Refusals

#[test]
fn a_wrong_or_missing_pfx_password_is_refused() {
    let (generated, _) = shared();
    let dir = tempfile::tempdir().unwrap();
    for encryption in [PfxEncryption::Aes256, PfxEncryption::Legacy3Des] {
        let pfx = cert::write_pfx(generated, &password(), encryption, "x").unwrap();
        let path = write(dir.path(), "app.pfx", &pfx);
        let wrong = PfxPassword::new("not the password").unwrap();
        let err = cert::load_client_certificate(&path, Some(&wrong)).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::WrongPassword {
                    password_given: true,
                    ..
                }
            ),
            "{err}"
        );
        let err = cert::load_client_certificate(&path, None).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::WrongPassword {
                    password_given: false,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("no password was given"));

        // A password from a variable: the error names the variable to fix, never its value.
        let from_env = PfxPassword::from_variable("EXO_PFX_PASSWORD", "not the password").unwrap();
        let err = cert::load_client_certificate(&path, Some(&from_env)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "wrong password for `{}`: the password in `EXO_PFX_PASSWORD` does not open it",
                path.display()
            )
        );
        assert_eq!(
            err.hint().unwrap(),
            "set `EXO_PFX_PASSWORD` to the password the PFX was written with; nothing was changed"
        );
    }
}

#[test]
fn a_missing_password_variable_is_an_error_naming_it() {
    let var = "ENTRAFORM_TEST_PFX_PASSWORD_THAT_IS_NEVER_SET";
    let err = cert::pfx_password_from_env(var).unwrap_err();
    assert!(matches!(&err, CertError::PasswordMissing { var: v } if v == var));
    assert!(err.to_string().contains(var));
    assert!(err.hint().unwrap().contains(var));
    // The empty-variable case is covered next to the parser (src/cert/secret.rs): setting
    // environment variables in a multi-threaded test binary is unsound.
    assert!(matches!(
        PfxPassword::new(""),
        Err(CertError::PasswordEmpty { var: None })
    ));
}

#[test]
fn a_file_certificate_holding_a_private_key_is_refused_with_a_hint() {
    let (generated, _) = shared();
    let dir = tempfile::tempdir().unwrap();
    let key = generated.private_key().expose_pkcs8_der();
    let cert_pem = pem("CERTIFICATE", generated.certificate().der());
    let pfx = cert::write_pfx(generated, &password(), PfxEncryption::Aes256, "x").unwrap();
    let cases = [
        write(
            dir.path(),
            "both.pem",
            format!("{cert_pem}{}", pem("PRIVATE KEY", key)),
        ),
        write(
            dir.path(),
            "rsa.pem",
            format!("{}{cert_pem}", pem("RSA PRIVATE KEY", &pkcs1(key))),
        ),
        write(dir.path(), "key.der", key),
        write(dir.path(), "pkcs1.der", pkcs1(key)),
        write(dir.path(), "app.pfx", &pfx),
    ];
    for path in cases {
        let err = cert::read_public_certificate(&path).unwrap_err();
        assert!(
            matches!(err, CertError::PrivateKeyInCertificateFile { .. }),
            "{}: {err}",
            path.display()
        );
        assert!(err.hint().unwrap().contains("public certificate only"));
    }
}

#[test]
fn file_certificates_are_read_from_pem_or_der_one_at_a_time() {
    let (generated, _) = shared();
    let dir = tempfile::tempdir().unwrap();
    let der = generated.certificate().der();
    let cert_pem = pem("CERTIFICATE", der);
    // Text around PEM blocks (as `openssl pkcs12 -nokeys` writes) is ignored.
    let pem_path = write(
        dir.path(),
        "app.pem",
        format!("Bag Attributes\n    friendlyName: x\n{cert_pem}"),
    );
    let der_path = write(dir.path(), "app.cer", der);
    for path in [pem_path, der_path] {
        let public = cert::read_public_certificate(&path).unwrap();
        assert_eq!(&public, generated.certificate());
    }

    let two = write(dir.path(), "two.pem", format!("{cert_pem}{cert_pem}"));
    let err = cert::read_public_certificate(&two).unwrap_err();
    assert!(
        matches!(err, CertError::SeveralCertificates { count: 2, .. }),
        "{err}"
    );

    let none = write(dir.path(), "none.pem", pem("PUBLIC KEY", b"\x30\x00"));
    let err = cert::read_public_certificate(&none).unwrap_err();
    assert!(matches!(err, CertError::NoCertificate { .. }), "{err}");

    let garbage = write(dir.path(), "garbage.cer", b"\x30\x03\x02\x01\x01");
    let err = cert::read_public_certificate(&garbage).unwrap_err();
    assert!(matches!(err, CertError::InvalidCertificate { .. }), "{err}");

    let missing = dir.path().join("missing.cer");
    let err = cert::read_public_certificate(&missing).unwrap_err();
    assert!(matches!(err, CertError::Read { .. }), "{err}");
}

#[test]
fn ecdsa_certificates_are_refused_because_entra_wants_rsa() {
    let (cert_der, key_der) = ecdsa_certificate_and_key();
    let dir = tempfile::tempdir().unwrap();
    let public = write(dir.path(), "ec.cer", &cert_der);
    let err = cert::read_public_certificate(&public).unwrap_err();
    assert!(
        matches!(&err, CertError::NotRsa { algorithm, .. } if algorithm == "ECDSA"),
        "{err}"
    );
    assert!(err.to_string().contains("only RSA"));
    assert!(err.hint().is_some());

    let with_key = write(
        dir.path(),
        "ec.pem",
        format!(
            "{}{}",
            pem("CERTIFICATE", &cert_der),
            pem("PRIVATE KEY", &key_der)
        ),
    );
    let err = cert::load_client_certificate(&with_key, None).unwrap_err();
    assert!(
        matches!(&err, CertError::NotRsa { algorithm, .. } if algorithm == "ECDSA"),
        "{err}"
    );

    let sec1 = write(
        dir.path(),
        "ec-sec1.pem",
        format!(
            "{}{}",
            pem("CERTIFICATE", &cert_der),
            pem("EC PRIVATE KEY", b"\x30\x00")
        ),
    );
    let err = cert::load_client_certificate(&sec1, None).unwrap_err();
    assert!(matches!(err, CertError::NotRsa { .. }), "{err}");

    assert!(matches!(
        cert::PublicCertificate::from_der(&cert_der),
        Err(CertError::NotRsa { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Files

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn secret_files_are_0600_in_new_0700_folders_and_existing_folders_are_left_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("secrets/certs/app.pfx");
    let written = cert::write_secret_file(&path, b"pfx bytes").unwrap();
    assert_eq!(written.path, path);
    assert_eq!(written.kept_previous, None);
    assert_eq!(std::fs::read(&path).unwrap(), b"pfx bytes");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("secrets")), 0o700);
    assert_eq!(mode(&dir.path().join("secrets/certs")), 0o700);
    assert_eq!(mode(dir.path()), 0o755, "an existing folder keeps its mode");

    let cer = dir.path().join("app.cer");
    cert::write_cer_file(&cer, shared().0.certificate()).unwrap();
    assert_eq!(std::fs::read(&cer).unwrap(), shared().0.certificate().der());
    assert_eq!(mode(&cer), 0o600);
}

#[cfg(unix)]
#[test]
fn an_existing_file_is_kept_under_a_timestamped_name_and_replaced_atomically() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.pfx");
    std::fs::write(&path, b"old key").unwrap();
    let old_inode = std::fs::metadata(&path).unwrap().ino();

    let before = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let written = cert::write_secret_file(&path, b"new key").unwrap();
    let after = OffsetDateTime::now_utc();

    let kept = written.kept_previous.expect("the old file is kept");
    assert_eq!(kept.parent(), Some(dir.path()));
    let name = kept.file_name().unwrap().to_str().unwrap();
    let stamp = name
        .strip_prefix("app.")
        .and_then(|s| s.strip_suffix(".pfx"))
        .unwrap_or_else(|| panic!("{name} is not app.<timestamp>.pfx"));
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = time::PrimitiveDateTime::parse(stamp, format)
        .unwrap()
        .assume_utc();
    assert!(
        before <= stamp && stamp <= after,
        "{stamp} not in [{before}, {after}]"
    );

    assert_eq!(std::fs::read(&kept).unwrap(), b"old key");
    assert_eq!(std::fs::read(&path).unwrap(), b"new key");
    // The old inode lives on under the kept name and the new file is a different inode: the
    // new content was renamed into place, never written over the old file.
    assert_eq!(std::fs::metadata(&kept).unwrap().ino(), old_inode);
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), old_inode);
    assert_eq!(mode(&path), 0o600);

    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut expected = vec!["app.pfx".to_owned(), name.to_owned()];
    expected.sort();
    assert_eq!(names, expected, "no temporary file is left");
}

// ---------------------------------------------------------------------------------------------
// Secrets never print

#[test]
fn secrets_never_appear_in_debug_output_or_errors() {
    let (generated, _) = shared();
    let key = generated.private_key().expose_pkcs8_der();
    let key_fragments = [
        base64::engine::general_purpose::STANDARD.encode(key),
        hex::encode(key),
        format!("{:?}", &key[..16]),
    ];
    let client = generated.to_client_certificate();
    let jwt = cert::client_assertion(
        &client,
        &AppId(uuid::Uuid::new_v4()),
        "https://x/token",
        AssertionAlg::Rs256,
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let password = password();

    let dir = tempfile::tempdir().unwrap();
    let pfx = cert::write_pfx(generated, &password, PfxEncryption::Aes256, "x").unwrap();
    let path = write(dir.path(), "app.pfx", &pfx);
    let wrong = PfxPassword::new("wrong-password-text").unwrap();
    let error = cert::load_client_certificate(&path, Some(&wrong)).unwrap_err();

    let printed = [
        format!("{password:?}"),
        format!("{:?}", generated.private_key()),
        format!("{generated:?}"),
        format!("{generated:#?}"),
        format!("{client:?}"),
        format!("{jwt:?}"),
        format!("{error:?}"),
        error.to_string(),
        error.hint().unwrap_or_default(),
    ];
    let token = jwt.expose_secret();
    let signature = token.rsplit('.').next().unwrap();
    for text in &printed {
        assert!(!text.contains(PASSWORD), "password in {text}");
        assert!(!text.contains("wrong-password-text"), "password in {text}");
        assert!(!text.contains(signature), "JWT in {text}");
        for fragment in &key_fragments {
            assert!(!text.contains(fragment.as_str()), "key in {text}");
        }
    }
    assert!(format!("{generated:?}").contains(&generated.certificate().thumbprint().to_hex()));
    assert_eq!(format!("{password:?}"), "PfxPassword(<redacted>)");
    assert_eq!(format!("{jwt:?}"), "SignedJwt(<redacted>)");
}

/// `plan` and `certs` compare a PFX with the tenant without its password: entraform's files
/// show the thumbprint in the key bag's `localKeyId`, in either encryption; anything else is not
/// taken for a PFX.
#[test]
fn a_pfx_shows_its_thumbprint_without_the_password() {
    let (generated, _) = shared();
    let password = PfxPassword::new(PASSWORD).unwrap();
    for encryption in [PfxEncryption::Aes256, PfxEncryption::Legacy3Des] {
        let pfx = cert::write_pfx(generated, &password, encryption, "label").unwrap();
        assert_eq!(
            cert::pfx_thumbprint(&pfx),
            Some(generated.certificate().thumbprint()),
            "{encryption:?}"
        );
    }
    assert_eq!(cert::pfx_thumbprint(generated.certificate().der()), None);
    assert_eq!(cert::pfx_thumbprint(b"not a pfx"), None);
}
