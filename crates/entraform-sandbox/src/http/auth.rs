//! Who is calling: bearer tokens on Graph requests, and the keys of trusted external issuers
//! (for federated credentials).

use serde_json::Value;

use super::Server;
use crate::errors::GraphError;
use crate::graph::{Caller, Headers};
use crate::seed;

impl Server {
    /// JWKS of a trusted external issuer, by OIDC discovery (cached).
    pub(crate) async fn issuer_keys(&self, issuer: &str) -> Result<Vec<Value>, String> {
        let mut cache = self.jwks_cache.lock().await;
        if let Some(k) = cache.get(issuer) {
            return Ok(k.clone());
        }
        let discovery = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let config: Value = self
            .http
            .get(&discovery)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let jwks_uri = config["jwks_uri"]
            .as_str()
            .ok_or("no jwks_uri in the issuer's discovery document")?;
        let jwks: Value = self
            .http
            .get(jwks_uri)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let keys = jwks["keys"].as_array().cloned().unwrap_or_default();
        cache.insert(issuer.to_string(), keys.clone());
        Ok(keys)
    }

    /// Authenticates a Graph request from its bearer token.
    pub(super) fn authenticate(&self, headers: &Headers) -> Result<Caller, GraphError> {
        let Some(auth) = headers.get("Authorization") else {
            return Err(GraphError::unauthenticated("Access token is empty."));
        };
        let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        else {
            return Err(GraphError::unauthenticated("Access token is empty."));
        };
        let Some(claims) = self.signer.verify_own(token.trim()) else {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid audience or signature.",
            ));
        };
        let aud = claims["aud"].as_str().unwrap_or_default();
        if aud != "https://graph.microsoft.com" && aud != seed::GRAPH_APP_ID {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid audience.",
            ));
        }
        let now = self.time.now_ms() / 1000;
        if claims["exp"].as_i64().is_none_or(|exp| exp < now) {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is expired.",
            ));
        }
        if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now + 300) {
            return Err(GraphError::unauthenticated(
                "Lifetime validation failed, the token is not yet valid.",
            ));
        }
        if claims["tid"].as_str() != Some(self.store.read().tenant.id.as_str()) {
            return Err(GraphError::unauthenticated(
                "Access token validation failure. Invalid tenant.",
            ));
        }
        Ok(Caller {
            app_id: claims["appid"].as_str().unwrap_or_default().to_string(),
            sp_id: claims["oid"].as_str().unwrap_or_default().to_string(),
            roles: claims["roles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|r| r.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
