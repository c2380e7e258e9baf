//! OpenSSL 3's view of the files entraform writes, and entraform's view of files OpenSSL writes.
//! Passwords reach `openssl` through an environment variable of the child process only.

use std::path::Path;
use std::process::{Command, Output};

use entraform::cert::{self, CertError};
use entraform::model::PfxEncryption;

use super::cert::{PASSWORD, password, shared};

const PASSWORD_VAR: &str = "ENTRAFORM_TEST_PFX_PASSWORD";

fn openssl(args: &[&str], password: &str) -> Output {
    let mut cmd = Command::new("openssl");
    cmd.args(args).env(PASSWORD_VAR, password);
    cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run `openssl` ({e}). These tests need the OpenSSL 3 command line tool: \
             install it with `apt-get install openssl` (Debian/Ubuntu), `dnf install openssl` \
             (Fedora) or `brew install openssl@3` (macOS); CI installs it."
        )
    })
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn require_openssl_3() {
    let version = text(&openssl(&["version"], ""));
    assert!(
        version.starts_with("OpenSSL 3."),
        "these tests need OpenSSL 3, found `{}`",
        version.trim()
    );
}

fn write_pfx(dir: &Path, encryption: PfxEncryption, friendly_name: &str) -> String {
    let pfx = cert::write_pfx(&shared().0, &password(), encryption, friendly_name).unwrap();
    let path = dir.join(format!("{}.pfx", encryption.as_str()));
    std::fs::write(&path, pfx).unwrap();
    path.to_str().unwrap().to_owned()
}

const PASSIN: &str = "env:ENTRAFORM_TEST_PFX_PASSWORD";

#[test]
fn openssl_3_reads_both_pfx_variants_with_the_right_password_and_expected_algorithms() {
    require_openssl_3();
    let dir = tempfile::tempdir().unwrap();
    for (encryption, expected) in [
        (
            PfxEncryption::Aes256,
            [
                "MAC: sha256",
                "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256",
                "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 10000, PRF hmacWithSHA256",
            ],
        ),
        (
            PfxEncryption::Legacy3Des,
            [
                "MAC: sha1",
                "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048",
            ],
        ),
    ] {
        let path = write_pfx(dir.path(), encryption, "Exo app");
        let info = ["pkcs12", "-info", "-noout", "-in", &path, "-passin", PASSIN];

        let right = openssl(&info, PASSWORD);
        let out = text(&right);
        assert!(right.status.success(), "{encryption:?}: {out}");
        for line in expected {
            assert!(
                out.contains(line),
                "{encryption:?}: missing `{line}` in\n{out}"
            );
        }

        let wrong = openssl(&info, "not the password");
        assert!(
            !wrong.status.success(),
            "{encryption:?} opened with a wrong password"
        );
        assert!(
            text(&wrong).contains("Mac verify error"),
            "{}",
            text(&wrong)
        );
    }
}

/// One `Bag Attributes` block of `openssl pkcs12 -info` output, and what follows it.
struct Bag {
    attributes: Vec<(String, String)>,
    is_key: bool,
}

impl Bag {
    fn get(&self, name: &str) -> &str {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no `{name}` in {:?}", self.attributes))
    }
}

fn bags(output: &str) -> Vec<Bag> {
    let mut bags: Vec<Bag> = Vec::new();
    let mut in_attributes = false;
    for line in output.lines() {
        if line == "Bag Attributes" {
            bags.push(Bag {
                attributes: Vec::new(),
                is_key: false,
            });
            in_attributes = true;
        } else if in_attributes && line.starts_with("    ") {
            let (name, value) = line.trim().split_once(": ").unwrap();
            bags.last_mut()
                .unwrap()
                .attributes
                .push((name.to_owned(), value.trim().to_owned()));
        } else {
            in_attributes = false;
            if line.starts_with("Key Attributes") {
                bags.last_mut().unwrap().is_key = true;
            }
        }
    }
    bags
}

#[test]
fn the_key_bag_names_the_microsoft_csp_and_both_bags_share_the_thumbprint_as_local_key_id() {
    require_openssl_3();
    let dir = tempfile::tempdir().unwrap();
    let thumbprint = shared().0.certificate().thumbprint().to_hex();
    let local_key_id: Vec<String> = thumbprint
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8(pair.to_vec()).unwrap())
        .collect();
    let local_key_id = local_key_id.join(" ");
    let mut key_names = Vec::new();
    for encryption in [PfxEncryption::Aes256, PfxEncryption::Legacy3Des] {
        let path = write_pfx(dir.path(), encryption, "Exo app (contoso)");
        // -nodes prints the key in clear: fine for a throwaway test key, and the only way to
        // make OpenSSL show the key bag's attributes.
        let output = openssl(
            &["pkcs12", "-info", "-nodes", "-in", &path, "-passin", PASSIN],
            PASSWORD,
        );
        let out = text(&output);
        assert!(output.status.success(), "{out}");
        let bags = bags(&out);
        assert_eq!(bags.len(), 2, "{out}");
        let cert_bag = bags.iter().find(|b| !b.is_key).expect("a certificate bag");
        let key_bag = bags.iter().find(|b| b.is_key).expect("a key bag");

        assert_eq!(cert_bag.get("friendlyName"), "Exo app (contoso)");
        assert_eq!(cert_bag.get("localKeyID"), local_key_id);
        assert_eq!(key_bag.get("localKeyID"), local_key_id);
        assert_eq!(
            key_bag.get("Microsoft CSP Name"),
            "Microsoft Enhanced RSA and AES Cryptographic Provider"
        );
        let key_name = key_bag.get("friendlyName");
        uuid::Uuid::parse_str(key_name)
            .unwrap_or_else(|_| panic!("key bag friendlyName `{key_name}` is not a GUID"));
        key_names.push(key_name.to_owned());
    }
    assert_ne!(
        key_names[0], key_names[1],
        "each PFX gets its own key container name"
    );
}

#[test]
fn openssl_sees_the_generated_certificate_and_its_thumbprint() {
    require_openssl_3();
    let dir = tempfile::tempdir().unwrap();
    let generated = &shared().0;

    let cer = dir.path().join("app.cer");
    cert::write_cer_file(&cer, generated.certificate()).unwrap();
    let output = openssl(
        &[
            "x509",
            "-in",
            cer.to_str().unwrap(),
            "-inform",
            "DER",
            "-noout",
            "-fingerprint",
            "-sha1",
        ],
        "",
    );
    let out = text(&output);
    assert!(output.status.success(), "{out}");
    // OpenSSL 3.0 prints `sha1 Fingerprint=`, later versions `SHA1 Fingerprint=`.
    let (label, fingerprint) = out.trim().split_once('=').unwrap();
    assert!(label.eq_ignore_ascii_case("SHA1 Fingerprint"), "{out}");
    let fingerprint = fingerprint.replace(':', "");
    assert_eq!(fingerprint, generated.certificate().thumbprint().to_hex());

    for encryption in [PfxEncryption::Aes256, PfxEncryption::Legacy3Des] {
        let path = write_pfx(dir.path(), encryption, "x");
        let output = openssl(
            &[
                "pkcs12", "-in", &path, "-nokeys", "-clcerts", "-passin", PASSIN,
            ],
            PASSWORD,
        );
        assert!(output.status.success(), "{}", text(&output));
        let pem = pem::parse_many(&output.stdout).unwrap();
        let certs: Vec<_> = pem.iter().filter(|p| p.tag() == "CERTIFICATE").collect();
        assert_eq!(certs.len(), 1);
        assert_eq!(certs[0].contents(), generated.certificate().der());

        // The key OpenSSL decrypts is the key entraform generated.
        let output = openssl(
            &[
                "pkcs12", "-in", &path, "-nocerts", "-nodes", "-passin", PASSIN,
            ],
            PASSWORD,
        );
        assert!(output.status.success(), "{}", text(&output));
        let pem = pem::parse_many(&output.stdout).unwrap();
        let keys: Vec<_> = pem.iter().filter(|p| p.tag() == "PRIVATE KEY").collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].contents(),
            generated.private_key().expose_pkcs8_der()
        );
    }
}

#[test]
fn pfx_files_made_by_openssl_load_for_sign_in() {
    require_openssl_3();
    let dir = tempfile::tempdir().unwrap();
    let generated = &shared().0;
    let key_pem = dir.path().join("key.pem");
    let cert_pem = dir.path().join("cert.pem");
    std::fs::write(
        &key_pem,
        pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            generated.private_key().expose_pkcs8_der(),
        )),
    )
    .unwrap();
    std::fs::write(
        &cert_pem,
        pem::encode(&pem::Pem::new("CERTIFICATE", generated.certificate().der())),
    )
    .unwrap();
    let key_pem = key_pem.to_str().unwrap();
    let cert_pem = cert_pem.to_str().unwrap();

    for (name, extra) in [
        ("openssl-aes.pfx", &[][..]),
        (
            "openssl-3des.pfx",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ][..],
        ),
    ] {
        let out = dir.path().join(name);
        let out = out.to_str().unwrap();
        let mut args = vec![
            "pkcs12", "-export", "-inkey", key_pem, "-in", cert_pem, "-out", out, "-passout",
            PASSIN,
        ];
        args.extend_from_slice(extra);
        let output = openssl(&args, PASSWORD);
        assert!(output.status.success(), "{name}: {}", text(&output));

        let loaded = cert::load_client_certificate(Path::new(out), Some(&password())).unwrap();
        assert_eq!(
            loaded.certificate().der(),
            generated.certificate().der(),
            "{name}"
        );

        let wrong = cert::PfxPassword::new("nope").unwrap();
        let err = cert::load_client_certificate(Path::new(out), Some(&wrong)).unwrap_err();
        assert!(
            matches!(err, CertError::WrongPassword { .. }),
            "{name}: {err}"
        );
    }
}
