//! What `entraform test-login` prints for a sign-in (golden, inline), and its hints.

use std::collections::BTreeMap;

use entraform::model::{AppId, Thumbprint};
use entraform::report::login::{self, LoginCertificate, LoginReport, TokenClaims};
use time::macros::datetime;

const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";

fn report(roles: &[&str], wids: &[&str]) -> LoginReport {
    LoginReport {
        app: "exo-v2-app".into(),
        display_name: "Exo_V2_App".into(),
        app_id: "3f76be04-5cf0-47f1-9df6-d05981a450fc"
            .parse::<AppId>()
            .unwrap(),
        certificate: LoginCertificate {
            path: "manifests/secrets/Exo_V2_App.pfx".into(),
            name: Some("automation".into()),
            thumbprint: "BB5D1064437D8720A5C53078185E6A361A78B10A"
                .parse::<Thumbprint>()
                .unwrap(),
            not_after: datetime!(2026-06-01 00:00 UTC),
        },
        scope: "https://outlook.office365.com/.default".into(),
        other_apis: Vec::new(),
        claims: Some(TokenClaims {
            audience: Some("https://outlook.office365.com".into()),
            tenant_id: Some("9e6d4ab0-4c3b-4f6e-8a53-0c8d2a7e1f11".into()),
            app_id: Some("3f76be04-5cf0-47f1-9df6-d05981a450fc".into()),
            expires_at: Some(datetime!(2025-06-01 00:59:59 UTC)),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            wids: wids.iter().map(|w| (*w).to_owned()).collect(),
        }),
        role_names: BTreeMap::from([
            (
                EXCHANGE_ADMINISTRATOR.into(),
                "Exchange Administrator".into(),
            ),
            (GLOBAL_READER.into(), "Global Reader".into()),
        ]),
    }
}

#[test]
fn a_sign_in_shows_the_apps_roles_and_named_wids() {
    let r = report(
        &["Exchange.ManageAsApp"],
        &[
            EXCHANGE_ADMINISTRATOR,
            GLOBAL_READER,
            "0f971eea-41eb-4569-a71e-57bb8a3eff1e",
        ],
    );
    insta::assert_snapshot!(login::render(&r, datetime!(2025-06-01 00:00 UTC)), @r"
    `exo-v2-app` signed in with its certificate.

      app          exo-v2-app (Exo_V2_App)
      appId        3f76be04-5cf0-47f1-9df6-d05981a450fc
      certificate  manifests/secrets/Exo_V2_App.pfx (certificate `automation`, thumbprint BB5D1064437D8720A5C53078185E6A361A78B10A, expires 2026-06-01)
      scope        https://outlook.office365.com/.default
      tenant       9e6d4ab0-4c3b-4f6e-8a53-0c8d2a7e1f11
      audience     https://outlook.office365.com
      expires      2025-06-01 00:59:59 UTC (in 59 minutes)
      roles        Exchange.ManageAsApp
      wids         29232cdf-9323-42fd-ade2-1d097af3e4de  Exchange Administrator
                   f2ef992c-3afb-46b9-b7cf-a126ee74c451  Global Reader
                   0f971eea-41eb-4569-a71e-57bb8a3eff1e
    ");
    assert!(login::hints(&r).is_empty());
}

#[test]
fn a_token_without_roles_says_none_and_hints_at_consent_and_the_exchange_role() {
    let r = report(&[], &[]);
    insta::assert_snapshot!(login::render(&r, datetime!(2025-06-01 00:00 UTC)), @r"
    `exo-v2-app` signed in with its certificate.

      app          exo-v2-app (Exo_V2_App)
      appId        3f76be04-5cf0-47f1-9df6-d05981a450fc
      certificate  manifests/secrets/Exo_V2_App.pfx (certificate `automation`, thumbprint BB5D1064437D8720A5C53078185E6A361A78B10A, expires 2026-06-01)
      scope        https://outlook.office365.com/.default
      tenant       9e6d4ab0-4c3b-4f6e-8a53-0c8d2a7e1f11
      audience     https://outlook.office365.com
      expires      2025-06-01 00:59:59 UTC (in 59 minutes)
      roles        (none)
      wids         (none)
    ");
    let hints = login::hints(&r);
    assert_eq!(hints.len(), 2, "{hints:?}");
    assert!(hints[0].contains("adminConsent: true"), "{}", hints[0]);
    assert!(hints[1].contains("Exchange Administrator"), "{}", hints[1]);
}

#[test]
fn an_opaque_token_is_a_sign_in_without_claims() {
    let mut r = report(&[], &[]);
    r.claims = None;
    let text = login::render(&r, datetime!(2025-06-01 00:00 UTC));
    assert!(
        text.ends_with(
            "  claims       the access token is not a JWT, so its roles cannot be shown\n"
        ),
        "{text}"
    );
    assert!(login::hints(&r).is_empty());
}
