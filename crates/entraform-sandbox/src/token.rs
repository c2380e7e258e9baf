//! The authority: `POST /{tenant}/oauth2/v2.0/token` (client credentials with a secret, a
//! certificate assertion verified against the app's key credentials, or a federated assertion
//! matched against its federated credentials), OIDC discovery and the JWKS, with the AADSTS
//! error shapes the identity platform sends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::errors::TokenError;
use super::graph::apps::{certificates, valid_certificates};
use super::graph::sps;
use super::http::Server;
use super::jwt::Parts;
use super::odata::decode_component;
use super::random_b64url;
use super::seed::{EXCHANGE_APP_ID, GRAPH_APP_ID};
use super::state::Document;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew the identity platform tolerates on assertions.
const SKEW_S: i64 = 300;
pub(crate) const TOKEN_LIFETIME_S: i64 = 3599;
/// The longest certificate assertion Microsoft documents (`exp` at most `nbf` + 10 minutes).
const MAX_ASSERTION_LIFETIME_S: i64 = 600;

/// Resolves `{tenant}` given as id or domain.
pub(crate) fn tenant_matches(doc: &Document, tenant: &str) -> bool {
    doc.tenant.id.eq_ignore_ascii_case(tenant) || doc.tenant.domain.eq_ignore_ascii_case(tenant)
}

pub(crate) fn issuer(server: &Server, tenant_id: &str) -> String {
    format!("{}/{tenant_id}/v2.0", server.base_url)
}

/// OIDC discovery for `{tenant}`.
pub(crate) fn openid_configuration(server: &Server, tenant_id: &str) -> Value {
    let base = &server.base_url;
    json!({
        "token_endpoint": format!("{base}/{tenant_id}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tenant_id}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer(server, tenant_id),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tenant_id}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tenant_id}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tenant_id}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "roles", "wids", "appid", "azp"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": base.trim_start_matches("https://").trim_start_matches("http://"),
    })
}

/// MSAL's instance discovery, answered so clients need not validate the authority elsewhere.
pub(crate) fn instance_discovery(server: &Server, tenant_id: &str) -> Value {
    let host = server
        .base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_string();
    json!({
        "tenant_discovery_endpoint": format!("{}/{tenant_id}/v2.0/.well-known/openid-configuration", server.base_url),
        "api-version": "1.1",
        "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
    })
}

pub(crate) fn jwks(server: &Server, tenant_id: &str) -> Value {
    json!({ "keys": [server.signer.jwk(&issuer(server, tenant_id))] })
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode_component(k, true), decode_component(v, true))
        })
        .collect()
}

/// The resource a `.default` scope names: (service principal id, audience for the token).
fn resolve_scope(doc: &Document, scope: &str, now: i64) -> Result<(String, String), TokenError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let [one] = scopes.as_slice() else {
        return Err(TokenError::bad_scope(scope));
    };
    let Some(resource) = one.strip_suffix("/.default") else {
        return Err(TokenError::bad_scope(scope));
    };
    let resource = resource.trim_end_matches('/');
    let by_app_id =
        |app_id: &str| sps::by_app_id(doc, app_id, now).map(|e| e.str("id").to_string());
    let found = match resource.to_ascii_lowercase().as_str() {
        "https://graph.microsoft.com" => {
            by_app_id(GRAPH_APP_ID).map(|id| (id, resource.to_string()))
        }
        "https://outlook.office365.com" | "https://outlook.office.com" => {
            by_app_id(EXCHANGE_APP_ID).map(|id| (id, resource.to_string()))
        }
        crate::keyvault::RESOURCE => by_app_id(crate::keyvault::KEY_VAULT_APP_ID)
            .map(|id| (id, crate::keyvault::RESOURCE.to_string())),
        other => {
            let app_id = other.strip_prefix("api://").unwrap_or(other);
            by_app_id(app_id)
                .map(|id| (id, resource.to_string()))
                .or_else(|| {
                    doc.service_principals
                        .values()
                        .filter(|e| e.visible(now))
                        .find(|e| {
                            sps::render(doc, e)["servicePrincipalNames"]
                                .as_array()
                                .is_some_and(|a| {
                                    a.iter().any(|n| {
                                        n.as_str().is_some_and(|n| n.eq_ignore_ascii_case(resource))
                                    })
                                })
                        })
                        .map(|e| (e.str("id").to_string(), resource.to_string()))
                })
        }
    };
    found.ok_or_else(|| TokenError::bad_scope(scope))
}

/// Which credential proved the client's identity (`appidacr`: 1 secret, 2 certificate/assertion).
enum Proof {
    Secret,
    Assertion,
}

enum Checked {
    Done(Proof),
    Federated(Vec<super::state::Object>, Box<Parts>),
}

#[allow(clippy::too_many_arguments)]
fn check_credential(
    server: &Server,
    client_id: &str,
    tenant_id: &str,
    tenant_domain: &str,
    secret: Option<&str>,
    assertion: Option<&str>,
    assertion_type: Option<&str>,
    now: i64,
) -> Result<Checked, TokenError> {
    // The token endpoint sees keys, secrets and federated credentials as replicated.
    let doc = server.read_view(now);
    let app = doc
        .applications
        .values()
        .find(|e| e.visible(now) && e.str("appId").eq_ignore_ascii_case(client_id))
        .ok_or_else(|| TokenError::unknown_app(client_id, tenant_id))?;
    match (secret, assertion) {
        (Some(secret), _) => {
            let Some(found) = app.secrets.iter().find(|s| s.text == secret) else {
                return Err(TokenError::bad_secret(client_id));
            };
            let expired = app.object["passwordCredentials"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["keyId"].as_str() == Some(found.key_id.as_str()))
                .and_then(|p| p["endDateTime"].as_str())
                .and_then(super::parse_iso)
                .is_some_and(|end| end < now);
            if expired {
                return Err(TokenError::expired_secret(client_id));
            }
            Ok(Checked::Done(Proof::Secret))
        }
        (None, Some(assertion)) => {
            if assertion_type != Some(JWT_BEARER) {
                return Err(TokenError::missing_parameter("client_assertion_type"));
            }
            let parts = Parts::parse(assertion).ok_or_else(TokenError::malformed_jwt)?;
            let is_certificate =
                parts.header_str("x5t").is_some() || parts.header_str("x5t#S256").is_some();
            if is_certificate {
                verify_certificate_assertion(
                    server,
                    &app.object,
                    &parts,
                    client_id,
                    tenant_id,
                    tenant_domain,
                    now,
                )?;
                Ok(Checked::Done(Proof::Assertion))
            } else {
                let fics = app
                    .federated
                    .iter()
                    .filter(|f| f.visible(now))
                    .map(|f| f.object.clone())
                    .collect();
                Ok(Checked::Federated(fics, Box::new(parts)))
            }
        }
        (None, None) => Err(TokenError::bad_assertion(
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )),
    }
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub(crate) async fn token(
    server: &Server,
    tenant: &str,
    body: &[u8],
    authorization: Option<&str>,
) -> Result<Value, TokenError> {
    let now = server.time.now_ms();
    let params = form(body);
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (tenant_id, tenant_domain) = {
        let doc = server.store.read();
        if !tenant_matches(&doc, tenant) {
            return Err(TokenError::unknown_tenant(tenant));
        }
        (doc.tenant.id.clone(), doc.tenant.domain.clone())
    };
    let grant = get("grant_type").ok_or_else(|| TokenError::missing_parameter("grant_type"))?;
    if grant != "client_credentials" {
        return Err(TokenError::unsupported_grant(grant));
    }
    // client_secret_basic: the credentials may come in the Authorization header.
    let basic = authorization
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(u, p)| (decode_component(u, true), decode_component(p, true)))
        });
    let client_id = get("client_id")
        .map(str::to_string)
        .or_else(|| basic.as_ref().map(|(u, _)| u.clone()))
        .ok_or_else(|| TokenError::missing_parameter("client_id"))?;
    let scope = get("scope").ok_or_else(|| TokenError::missing_parameter("scope"))?;
    let secret = get("client_secret")
        .map(str::to_string)
        .or_else(|| basic.map(|(_, p)| p));
    let assertion = get("client_assertion");

    // A secret sent beside an assertion does not excuse the assertion: both must hold.
    if let (Some(_), Some(assertion)) = (&secret, assertion) {
        let alone = check_credential(
            server,
            &client_id,
            &tenant_id,
            &tenant_domain,
            None,
            Some(assertion),
            get("client_assertion_type"),
            now,
        )?;
        if let Checked::Federated(..) = alone {
            return Err(TokenError::bad_assertion(
                "A client secret cannot be sent with a federated assertion.",
            ));
        }
    }
    // Everything that needs the document, checked under one short lock; a federated
    // assertion is verified after it (fetching the issuer's keys must not hold the lock).
    let checked = check_credential(
        server,
        &client_id,
        &tenant_id,
        &tenant_domain,
        secret.as_deref(),
        assertion,
        get("client_assertion_type"),
        now,
    )?;
    let proof = match checked {
        Checked::Done(p) => p,
        Checked::Federated(fics, parts) => {
            verify_federated_assertion(server, &fics, &parts, now).await?;
            Proof::Assertion
        }
    };

    let doc = server.read_view(now);
    let client_sp = sps::by_app_id(&doc, &client_id, now)
        .ok_or_else(|| TokenError::no_service_principal(&client_id))?;
    let (resource_sp_id, audience) = resolve_scope(&doc, scope, now)?;
    let resource_sp = &doc.service_principals[&resource_sp_id];
    let resource_roles = sps::render(&doc, resource_sp)["appRoles"].clone();
    let sp_id = client_sp.str("id").to_string();
    let mut roles: Vec<String> = doc
        .app_role_assignments
        .values()
        .filter(|a| {
            a.visible(now) && a.str("principalId") == sp_id && a.str("resourceId") == resource_sp_id
        })
        .filter_map(|a| {
            resource_roles.as_array()?.iter().find(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|i| i.eq_ignore_ascii_case(a.str("appRoleId")))
                    && r["isEnabled"] == json!(true)
            })?["value"]
                .as_str()
                .map(String::from)
        })
        .collect();
    roles.sort();
    roles.dedup();
    let mut wids: Vec<String> = doc
        .role_assignments
        .values()
        .filter(|a| a.visible(now) && a.str("principalId") == sp_id)
        .map(|a| a.str("roleDefinitionId").to_string())
        .collect();
    wids.sort();
    wids.dedup();
    let iat = now / 1000;
    let acr = match proof {
        Proof::Secret => "1",
        Proof::Assertion => "2",
    };
    let mut claims = json!({
        "aud": audience,
        "iss": issuer(server, &tenant_id),
        "iat": iat,
        "nbf": iat,
        "exp": iat + TOKEN_LIFETIME_S,
        "appid": client_id,
        "appidacr": acr,
        "azp": client_id,
        "azpacr": acr,
        "idtyp": "app",
        "oid": sp_id,
        "sub": sp_id,
        "tid": tenant_id,
        "uti": random_b64url(16),
        "ver": "2.0",
    });
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    if !wids.is_empty() {
        claims["wids"] = json!(wids);
    }
    drop(doc);
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_S,
        "ext_expires_in": TOKEN_LIFETIME_S,
        "access_token": server.signer.sign(&claims),
    }))
}

fn verify_certificate_assertion(
    server: &Server,
    app: &super::state::Object,
    parts: &Parts,
    client_id: &str,
    tenant_id: &str,
    tenant_domain: &str,
    now: i64,
) -> Result<(), TokenError> {
    let alg = parts.header_str("alg").unwrap_or_default();
    if alg != "RS256" && alg != "PS256" {
        return Err(TokenError::bad_assertion(format!(
            "The client assertion uses the unsupported algorithm '{alg}'; only RSA (RS256, PS256) is accepted."
        )));
    }
    // Clients differ in how they spell base64url (azure-identity pads it): compare unpadded.
    let canonical = |s: &str| s.trim_end_matches('=').replace('+', "-").replace('/', "_");
    let x5t = parts.header_str("x5t").map(canonical);
    // The SHA-256 thumbprint names the key of a PS256 assertion (certificate-credentials: `alg`
    // PS256 with `x5t#S256`); RS256 assertions are matched by `x5t` (SHA-1) alone, as MSAL and
    // azure-identity send them, so an RS256 assertion with only `x5t#S256` names no key.
    let x5t_s256 = parts
        .header_str("x5t#S256")
        .filter(|_| alg == "PS256")
        .map(canonical);
    let thumb = x5t_s256.clone().or(x5t.clone()).unwrap_or_default();
    let (x5t, x5t_s256) = (x5t.as_deref(), x5t_s256.as_deref());
    // Every certificate registered on the app, then the ones valid now.
    let all = certificates(app);
    let matching: Vec<_> = all
        .iter()
        .filter(|(_, c, _, _)| Some(c.x5t.as_str()) == x5t || Some(c.x5t_s256.as_str()) == x5t_s256)
        .collect();
    if matching.is_empty() {
        return Err(TokenError::bad_signature(&thumb));
    }
    let valid_now = valid_certificates(app, now);
    let usable: Vec<_> = matching
        .iter()
        .filter(|(k, _, _, _)| valid_now.iter().any(|(v, _)| v["keyId"] == k["keyId"]))
        .collect();
    if usable.is_empty() {
        return Err(TokenError::expired_key(&thumb));
    }
    if !usable
        .iter()
        .any(|(_, c, _, _)| parts.verify_rsa(&c.modulus, &c.exponent))
    {
        return Err(TokenError::bad_signature(&thumb));
    }
    if parts.claim_str("iss") != Some(client_id) || parts.claim_str("sub") != Some(client_id) {
        return Err(TokenError::bad_assertion(
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let base = &server.base_url;
    let audiences = parts.audiences();
    let aud_ok = audiences.iter().any(|a| {
        [tenant_id, tenant_domain].iter().any(|t| {
            a.eq_ignore_ascii_case(&format!("{base}/{t}/oauth2/v2.0/token"))
                || a.eq_ignore_ascii_case(&format!("{base}/{t}/oauth2/token"))
        })
    });
    if !aud_ok {
        return Err(TokenError::bad_assertion(format!(
            "The audience claim of the client assertion is invalid. Expected '{base}/{tenant_id}/oauth2/v2.0/token'."
        )));
    }
    check_times(parts, now)?;
    check_lifetime(parts)?;
    let jti = parts.claim_str("jti").ok_or_else(|| {
        TokenError::bad_assertion("The client assertion must contain a 'jti' claim.")
    })?;
    let exp = parts.claim_i64("exp").unwrap_or_default();
    let mut seen = server.jti_seen.lock().unwrap_or_else(|p| p.into_inner());
    seen.retain(|_, until| *until + SKEW_S > now / 1000);
    let key = format!("{client_id}/{jti}");
    if seen.contains_key(&key) {
        return Err(TokenError::bad_assertion(
            "The client assertion's 'jti' has been used before; assertions cannot be replayed.",
        ));
    }
    seen.insert(key, exp);
    Ok(())
}

fn check_times(parts: &Parts, now: i64) -> Result<(), TokenError> {
    let now_s = now / 1000;
    let exp = parts.claim_i64("exp").ok_or_else(|| {
        TokenError::bad_assertion("The client assertion must contain an 'exp' claim.")
    })?;
    if now_s > exp + SKEW_S {
        return Err(TokenError::assertion_time(&format!(
            "Current time: {}, expiry time of assertion {}.",
            super::iso(now),
            super::iso(exp * 1000)
        )));
    }
    if let Some(nbf) = parts.claim_i64("nbf")
        && nbf > now_s + SKEW_S
    {
        return Err(TokenError::assertion_time(&format!(
            "Current time: {}, assertion valid from {}.",
            super::iso(now),
            super::iso(nbf * 1000)
        )));
    }
    Ok(())
}

/// A certificate assertion lives 10 minutes at most: "keep it short - 5-10 minutes after `nbf`
/// at most" (MicrosoftDocs/entra-docs docs/identity-platform/certificate-credentials.md, the
/// `exp` claim). That page adds that Entra does not enforce it today; the sandbox does, so a
/// client that passes here stays within what Microsoft documents. Federated assertions are
/// the issuer's tokens (a Kubernetes token lives an hour) and are not held to it.
fn check_lifetime(parts: &Parts) -> Result<(), TokenError> {
    let (Some(exp), Some(start)) = (
        parts.claim_i64("exp"),
        parts.claim_i64("nbf").or_else(|| parts.claim_i64("iat")),
    ) else {
        return Ok(());
    };
    if exp - start > MAX_ASSERTION_LIFETIME_S {
        return Err(TokenError::assertion_time(&format!(
            "Its lifetime (exp - nbf) is {} seconds; a client assertion is valid for 10 minutes at most.",
            exp - start
        )));
    }
    Ok(())
}

async fn verify_federated_assertion(
    server: &Server,
    fics: &[super::state::Object],
    parts: &Parts,
    now: i64,
) -> Result<(), TokenError> {
    let iss = parts.claim_str("iss").unwrap_or_default().to_string();
    let sub = parts.claim_str("sub").unwrap_or_default().to_string();
    let audiences = parts.audiences();
    let matched = fics.iter().any(|f| {
        f["issuer"].as_str() == Some(iss.as_str())
            && f["subject"].as_str() == Some(sub.as_str())
            && f["audiences"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|x| x.as_str().is_some_and(|x| audiences.iter().any(|y| y == x)))
            })
    });
    if !matched {
        return Err(TokenError::no_federated_match(
            &iss,
            &sub,
            &audiences.join(","),
        ));
    }
    if !server
        .trusted_issuers
        .iter()
        .any(|t| t.trim_end_matches('/') == iss.trim_end_matches('/'))
    {
        return Err(TokenError::untrusted_issuer(&iss));
    }
    let keys = server.issuer_keys(&iss).await.map_err(|e| {
        TokenError::bad_assertion(format!(
            "AADSTS50166: Request to External OIDC endpoint failed: {e}"
        ))
    })?;
    let kid = parts.header_str("kid");
    let verified = keys
        .iter()
        .filter(|k| kid.is_none() || k["kid"].as_str() == kid)
        .any(|k| {
            let b64 = |f: &str| {
                k[f].as_str().and_then(|s| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(s.trim_end_matches('='))
                        .ok()
                })
            };
            match (b64("n"), b64("e")) {
                (Some(n), Some(e)) => parts.verify_rsa(&n, &e),
                _ => false,
            }
        });
    if !verified {
        return Err(TokenError::bad_assertion(
            "AADSTS50013: Assertion failed signature validation.",
        ));
    }
    check_times(parts, now)?;
    Ok(())
}
