//! Graph's and the token endpoint's error bodies, with the codes and messages the real services
//! send (graph-contract.md, "Errors and throttling" and "Token endpoint").

use serde_json::{Value, json};

/// A Graph error before it is rendered: the request ids and date are added by the server.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub details: Vec<Value>,
    pub headers: Vec<(String, String)>,
}

impl GraphError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        GraphError {
            status,
            code: code.to_string(),
            message: message.into(),
            details: Vec::new(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "Request_BadRequest", message)
    }

    pub(crate) fn unsupported_query(message: impl Into<String>) -> Self {
        Self::new(400, "Request_UnsupportedQuery", message)
    }

    pub(crate) fn not_found(id: &str) -> Self {
        Self::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(crate) fn denied() -> Self {
        Self::new(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    /// An alternate-key or unique-property collision as Entra ID answers it: 400
    /// `Request_BadRequest` "Another object with the same value for property … already exists."
    /// with an `ObjectConflict` detail (graph-contract.md, corrections: not 409).
    pub(crate) fn object_conflict(property: &str) -> Self {
        let message =
            format!("Another object with the same value for property {property} already exists.");
        let mut e = Self::bad_request(message.clone());
        e.details.push(json!({
            "code": "ObjectConflict",
            "message": message,
            "target": property,
        }));
        e
    }

    pub(crate) fn same_key(status: u16, property: &str) -> Self {
        let mut e = Self::new(
            status,
            "Request_MultipleObjectsWithSameKeyValue",
            format!("Another object with the same value for property {property} already exists."),
        );
        e.details.push(json!({
            "code": "ObjectConflict",
            "message": format!("Another object with the same value for property {property} already exists."),
            "target": property,
        }));
        e
    }

    pub(crate) fn unauthenticated(message: impl Into<String>) -> Self {
        let mut e = Self::new(401, "InvalidAuthenticationToken", message);
        e.headers.push((
            "WWW-Authenticate".into(),
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"".into(),
        ));
        e
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            405,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
        )
    }

    pub(crate) fn no_route(path: &str) -> Self {
        Self::new(
            400,
            "BadRequest",
            format!(
                "Resource not found for the segment '{}'.",
                last_segment(path)
            ),
        )
    }

    pub(crate) fn read_only(property: &str) -> Self {
        Self::bad_request(format!(
            "Property '{property}' is read-only and cannot be set."
        ))
    }

    pub(crate) fn unknown_property(property: &str) -> Self {
        Self::bad_request(format!(
            "Property '{property}' does not exist as a declared property or extension property."
        ))
    }

    pub(crate) fn invalid_value(property: &str) -> Self {
        let mut e = Self::bad_request(format!(
            "Invalid value specified for property '{property}' of resource."
        ));
        e.details
            .push(json!({"code": "InvalidValue", "target": property}));
        e
    }

    /// The body of a Graph error with the ids of the request that caused it.
    pub(crate) fn body(&self, request_id: &str, client_request_id: &str, date: &str) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
        });
        if !self.details.is_empty() {
            error["details"] = Value::Array(self.details.clone());
        }
        if self.status == 429 {
            // Graph's throttling body nests its own code/message in innerError.
            error["innerError"] = json!({
                "code": "429",
                "date": date,
                "message": "Please retry after",
                "request-id": request_id,
                "status": "429",
                "client-request-id": client_request_id,
            });
        } else {
            error["innerError"] = json!({
                "date": date,
                "request-id": request_id,
                "client-request-id": client_request_id,
            });
        }
        json!({ "error": error })
    }
}

fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

/// An AADSTS error from the token endpoint.
#[derive(Debug, Clone)]
pub(crate) struct TokenError {
    pub status: u16,
    pub error: &'static str,
    pub code: u32,
    pub description: String,
}

impl TokenError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        TokenError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    pub(crate) fn unknown_app(client_id: &str, tenant: &str) -> Self {
        Self::new(
            400,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub(crate) fn bad_secret(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub(crate) fn expired_secret(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000222,
            format!("The provided client secret keys for app '{client_id}' are expired."),
        )
    }

    pub(crate) fn bad_signature(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{client_id}'] Client assertion failed signature validation."
            ),
        )
    }

    pub(crate) fn expired_key(thumbprint: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            700027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '{thumbprint}']"
            ),
        )
    }

    pub(crate) fn assertion_time(detail: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            700024,
            format!("Client assertion is not within its valid time range. {detail}"),
        )
    }

    /// "InvalidJwtToken - Invalid JWT token because of ... token format isn't proper"
    /// (reference-error-codes, AADSTS50027).
    pub(crate) fn malformed_jwt() -> Self {
        Self::new(
            401,
            "invalid_client",
            50027,
            "JWT token is invalid or malformed.",
        )
    }

    pub(crate) fn bad_assertion(detail: impl Into<String>) -> Self {
        Self::new(401, "invalid_client", 50012, detail)
    }

    pub(crate) fn unknown_tenant(tenant: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    pub(crate) fn bad_scope(scope: &str) -> Self {
        Self::new(
            400,
            "invalid_scope",
            70011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    pub(crate) fn no_federated_match(issuer: &str, subject: &str, audience: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'."
            ),
        )
    }

    pub(crate) fn untrusted_issuer(issuer: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            50166,
            format!(
                "Request to External OIDC endpoint failed. The sandbox does not trust the issuer '{issuer}' (start it with --trust-issuer to allow it)."
            ),
        )
    }

    pub(crate) fn missing_parameter(name: &str) -> Self {
        Self::new(
            400,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub(crate) fn unsupported_grant(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    pub(crate) fn no_service_principal(client_id: &str) -> Self {
        Self::new(
            401,
            "invalid_client",
            7000229,
            format!(
                "The client application {client_id} is missing service principal in the tenant."
            ),
        )
    }

    pub(crate) fn body(&self, trace_id: &str, correlation_id: &str, timestamp: &str) -> Value {
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}
