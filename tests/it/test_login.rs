//! `entraform test-login` against a sandbox tenant: the app signs in with its own PFX and sees
//! the roles and wids its automation will have; failures name the AADSTS code; nothing secret
//! is ever printed.

use crate::certs_seed::{
    APP, EXCHANGE_ADMINISTRATOR, EXCHANGE_SCOPE, PASSWORD, PASSWORD_ENV, certificate, seed,
    write_pfx,
};
use crate::common::{entraform, stderr, stdout};

#[tokio::test]
async fn the_app_signs_in_with_its_pfx_and_sees_exchange_manage_as_app_and_its_role() {
    let s = seed(365, "30d").await;
    let out = s.run(&[
        "test-login",
        "--app",
        APP,
        "--scope",
        EXCHANGE_SCOPE,
        "exo.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("appId        {}", s.app_id)),
        "{text}"
    );
    assert!(
        text.contains("audience     https://outlook.office365.com\n"),
        "{text}"
    );
    assert!(
        text.contains("roles        Exchange.ManageAsApp\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "wids         {EXCHANGE_ADMINISTRATOR}  Exchange Administrator\n"
        )),
        "{text}"
    );
    assert!(text.contains(&s.thumbprint), "{text}");
    assert!(text.contains("certificate `automation`"), "{text}");

    // The default scope is Graph, where the app holds no permission: said, with a hint.
    let graph = s.run(&["test-login", "--app", APP, "exo.yaml"]);
    assert_eq!(graph.status.code(), Some(0), "{}", stderr(&graph));
    assert!(
        stdout(&graph).contains("roles        (none)"),
        "{}",
        stdout(&graph)
    );
    assert!(stderr(&graph).contains("hint:"), "{}", stderr(&graph));
}

#[tokio::test]
async fn nothing_secret_is_printed_even_at_trace_level() {
    let s = seed(365, "30d").await;
    let out = s.run(&[
        "-vvv",
        "test-login",
        "--app",
        APP,
        "--scope",
        EXCHANGE_SCOPE,
        "exo.yaml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (stream, text) in [("stdout", stdout(&out)), ("stderr", stderr(&out))] {
        // Every JWT (access token, client assertion) starts with a base64url `{"`.
        assert!(!text.contains("eyJ"), "{stream} shows a JWT:\n{text}");
        assert!(!text.contains(PASSWORD), "{stream} shows the PFX password");
        assert!(
            !text.contains("BEGIN") && !text.contains("PRIVATE KEY"),
            "{stream} shows key material"
        );
    }
    assert!(
        stderr(&out).contains("TRACE") || stderr(&out).contains("trace"),
        "the scan ran at trace level:\n{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_pfx_the_app_does_not_know_fails_with_its_aadsts_code_and_a_hint() {
    let s = seed(365, "30d").await;
    let (_, other) = certificate(30);
    let stranger = s.dir.path().join("stranger.pfx");
    write_pfx(&stranger, &other);
    let out = s.run(&[
        "test-login",
        "--app",
        APP,
        "--pfx",
        "stranger.pfx",
        "--scope",
        EXCHANGE_SCOPE,
        "exo.yaml",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("error: `exo-v2-app` could not sign in with `stranger.pfx`"),
        "{err}"
    );
    assert!(err.contains("AADSTS700027"), "{err}");
    assert!(
        err.contains(&format!(
            "hint: {}",
            entraform::graph::aadsts_hint(700027).unwrap()
        )),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
}

#[tokio::test]
async fn an_unknown_app_a_missing_password_and_a_wrong_one_are_errors_that_say_so() {
    let s = seed(365, "30d").await;
    let typo = s.run(&["test-login", "--app", "exo-v2", "exo.yaml"]);
    assert_eq!(typo.status.code(), Some(1));
    assert!(
        stderr(&typo).contains("error: no manifest names an app `exo-v2`")
            && stderr(&typo).contains("hint: did you mean `exo-v2-app`?"),
        "{}",
        stderr(&typo)
    );

    let no_password = entraform()
        .arg("--sandbox")
        .arg("--sandbox-state")
        .arg(&s.state)
        .args(["test-login", "--app", APP, "exo.yaml"])
        .env_remove(PASSWORD_ENV)
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(no_password.status.code(), Some(1));
    assert!(
        stderr(&no_password).contains(PASSWORD_ENV),
        "{}",
        stderr(&no_password)
    );

    let wrong = entraform()
        .arg("--sandbox")
        .arg("--sandbox-state")
        .arg(&s.state)
        .args(["test-login", "--app", APP, "exo.yaml"])
        .env(PASSWORD_ENV, "not the password")
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("wrong password"),
        "{}",
        stderr(&wrong)
    );
    assert!(!stderr(&wrong).contains("not the password"));
}
