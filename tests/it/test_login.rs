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

    // A manifest without application permissions: Graph, where the app holds none; said,
    // with a hint on granting them.
    let graph = s.run(&["test-login", "--app", APP, "exo.yaml"]);
    assert_eq!(graph.status.code(), Some(0), "{}", stderr(&graph));
    assert!(
        stdout(&graph).contains("scope        https://graph.microsoft.com/.default\n")
            && stdout(&graph).contains("roles        (none)"),
        "{}",
        stdout(&graph)
    );
    assert!(
        stderr(&graph).contains("hint: the token carries no application permissions"),
        "{}",
        stderr(&graph)
    );
}

/// The manifest of the seeded app with its API permissions declared, `apis` in this order.
fn declaring(s: &crate::certs_seed::Seeded, apis: &[(&str, &str)]) -> String {
    let mut text = crate::certs_seed::manifest_text("30d");
    text.push_str("  adminConsent: true\n  apiPermissions:\n");
    for (api, permission) in apis {
        text.push_str(&format!(
            "    - api: {api}\n      application: [{permission}]\n"
        ));
    }
    std::fs::write(s.dir.path().join("declared.yaml"), text).unwrap();
    "declared.yaml".to_owned()
}

#[tokio::test]
async fn an_exchange_only_app_signs_in_for_exchange_without_scope() {
    let s = seed(365, "30d").await;
    let manifest = declaring(
        &s,
        &[("Office 365 Exchange Online", "Exchange.ManageAsApp")],
    );
    let out = s.run(&["test-login", "--app", APP, &manifest]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("scope        {EXCHANGE_SCOPE}\n")),
        "{text}"
    );
    assert!(
        text.contains("roles        Exchange.ManageAsApp\n"),
        "{text}"
    );
    assert!(!stderr(&out).contains("hint:"), "{}", stderr(&out));

    // Asked for Graph, the token has no roles; the hint names the scope that shows them.
    let graph = s.run(&[
        "test-login",
        "--app",
        APP,
        "--scope",
        "https://graph.microsoft.com/.default",
        &manifest,
    ]);
    assert_eq!(graph.status.code(), Some(0), "{}", stderr(&graph));
    assert!(stdout(&graph).contains("roles        (none)"));
    let err = stderr(&graph);
    assert!(
        err.contains(&format!(
            "hint: `Office 365 Exchange Online` roles are in a token for `{EXCHANGE_SCOPE}`: `entraform test-login --app {APP} --scope {EXCHANGE_SCOPE}`"
        )),
        "{err}"
    );
    assert!(!err.contains("list them under `apiPermissions`"), "{err}");
}

#[tokio::test]
async fn with_several_apis_the_first_listed_is_used_and_the_others_scopes_are_named() {
    let s = seed(365, "30d").await;
    let manifest = declaring(
        &s,
        &[
            ("Microsoft Graph", "Application.Read.All"),
            ("Office 365 Exchange Online", "Exchange.ManageAsApp"),
        ],
    );
    let out = s.run(&["test-login", "--app", APP, &manifest]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("scope        https://graph.microsoft.com/.default\n"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "`{APP}` holds application permissions on 2 APIs; signing in for the first the manifest lists, `Microsoft Graph`"
        )),
        "{err}"
    );
    assert!(err.contains(&format!("--scope {EXCHANGE_SCOPE}`")), "{err}");
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
        stderr(&wrong).contains(&format!(
            "wrong password for `secrets/exo.pfx`: the password in `{PASSWORD_ENV}` does not open it"
        )) && stderr(&wrong).contains(&format!("hint: set `{PASSWORD_ENV}` to the password")),
        "{}",
        stderr(&wrong)
    );
    assert!(!stderr(&wrong).contains("not the password"));
}
