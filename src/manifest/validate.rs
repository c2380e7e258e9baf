//! Semantic validation: a structurally sound [`RawManifest`] becomes a [`DesiredApp`], or
//! problems that point at the offending node. Everything that can be checked without the
//! tenant is checked here (formats, defaults, Graph's documented limits, uniqueness within an
//! app); names only the tenant knows are left for plan time.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};

use super::check::{FieldPath, Problem, Seg, did_you_mean, path, shorten};
use super::diagnostic::SourceText;
use super::paths::{NamedPath, PathRole};
use super::raw::{
    ApiVersion, Kind, RawApiPermission, RawAssignment, RawCertificate, RawClientSecret,
    RawDirectoryRole, RawFederatedCredential, RawGenerate, RawKeyType, RawKeyVault, RawManifest,
    RawPfxEncryption, RawSignInAudience,
};
use super::yaml::{Node, ScalarKind, Span, Value};
use crate::model::dn::{escape_dn_value, parse_dn};
use crate::model::entitlements::Entitlement;
use crate::model::fields::{self, FieldValues, On};
use crate::model::pre_authorized;
use crate::model::{
    ApiPermission, ApiPermissionPositions, ApiRef, AppId, AssignedRole, AssignmentSpec,
    CertificateSource, CertificateSpec, ClientSecretSpec, DEFAULT_FEDERATED_AUDIENCE, DesiredApp,
    DirectoryRoleSpec, FederatedCredentialSpec, GenerateSpec, KeyType, KeyVaultCertificate,
    KeyVaultSecret, MANAGED_BY_TAG, MAX_CERTIFICATE_NAME, MAX_KEY_DISPLAY_NAME, ObjectId, OwnerRef,
    Period, PfxEncryption, Positions, PreAuthorizedPositions, PrincipalRef, RoleDefinitionId,
    RoleRef, SignInAudience, Source, certificate_display_name, parse_guid,
};

/// Graph's limits on `requiredResourceAccess`.
const MAX_APIS: usize = 50;
const MAX_PERMISSIONS: usize = 400;
/// Graph's limits on federated identity credentials.
const MAX_FEDERATED: usize = 20;
const MIN_FEDERATED_NAME: usize = 3;
const MAX_FEDERATED_NAME: usize = 120;
/// Entra's rule for a federated credential's name (MicrosoftDocs/azure-docs
/// `articles/active-directory/workload-identities/includes/federated-credential-configuration-considerations.md`).
const FEDERATED_NAME_RULE: &str =
    "Entra needs 3 to 120 characters: letters, digits, `-` and `_`, the first a letter or digit";
const MAX_FEDERATED_FIELD: usize = 600;
const MAX_DESCRIPTION: usize = 1024;
/// Entra's limit on a user principal name.
const MAX_UPN: usize = 113;
/// Entra's limit on a redirect URI.
const MAX_REDIRECT_URI: usize = 256;

/// Something that must be unique across every manifest loaded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Claim {
    Name(String),
    AppId(AppId),
}

#[derive(Debug)]
pub struct Validated {
    pub app: DesiredApp,
    pub claims: Vec<(Claim, Span)>,
    /// Every file the manifest names, for [`super::paths::PathChecker`].
    pub paths: Vec<NamedPath>,
}

/// `text` is the manifest's text, its path as displayed; `dir` is its folder, against which
/// paths resolve.
pub fn validate(
    raw: RawManifest,
    doc: &Node,
    text: &SourceText,
    dir: &Path,
    out: &mut Vec<Problem>,
) -> Validated {
    let mut v = V {
        doc,
        text,
        dir,
        out,
        claims: Vec::new(),
        paths: Vec::new(),
        positions: Positions::default(),
    };
    let mut app = v.app(raw);
    app.positions = v.positions;
    Validated {
        app,
        claims: v.claims,
        paths: v.paths,
    }
}

struct V<'a> {
    doc: &'a Node,
    text: &'a SourceText,
    dir: &'a Path,
    out: &'a mut Vec<Problem>,
    claims: Vec<(Claim, Span)>,
    paths: Vec<NamedPath>,
    /// Filled as entries are accepted, so each list follows its field index by index.
    positions: Positions,
}

impl V<'_> {
    /// The span of the value at `at` or, when it is absent, of the nearest key above it.
    fn span(&self, at: &str) -> Span {
        let (value, key) = locate(self.doc, &path(at));
        value.or(key).unwrap_or_default()
    }

    /// The span of the key at `at` (e.g. to point at `file:` rather than its value).
    fn key_span(&self, at: &str) -> Span {
        let (value, key) = locate(self.doc, &path(at));
        key.or(value).unwrap_or_default()
    }

    /// Where the value at `at` is written, for a problem the tenant shows at plan time.
    fn source(&self, at: &str) -> Source {
        let location = self.text.location(self.span(at));
        Source {
            file: self.text.path.clone(),
            line: location.line,
            column: location.column,
            width: location.width,
            text: self.text.line(location.line).to_owned(),
        }
    }

    fn err(&mut self, at: &str, message: impl Into<String>, hint: Option<String>) {
        let span = self.span(at);
        self.err_span(span, message, hint);
    }

    fn err_span(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        self.out.push(Problem {
            span,
            message: message.into(),
            hint,
        });
    }

    fn app(&mut self, raw: RawManifest) -> DesiredApp {
        // Both are single-valued today; the schema checks already refused anything else.
        let RawManifest {
            api_version: ApiVersion::V1,
            kind: Kind::Application,
            metadata,
            spec,
        } = raw;
        let name = metadata.name;
        if !is_valid_name(&name) {
            let slug = slugify(&name);
            self.err(
                "metadata.name",
                format!(
                    "`metadata.name` `{}` is not a valid name: use 1 to 64 lower-case letters, \
                     digits and hyphens, starting and ending with a letter or digit",
                    shorten(&name)
                ),
                (is_valid_name(&slug) && slug != name).then(|| format!("did you mean `{slug}`?")),
            );
        }
        let name_span = self.span("metadata.name");
        self.claims.push((Claim::Name(name.clone()), name_span));

        let adopt_app_id = metadata.app_id.and_then(|id| match parse_guid(&id) {
            Ok(uuid) => {
                let id = AppId(uuid);
                self.claims
                    .push((Claim::AppId(id), self.span("metadata.appId")));
                Some(id)
            }
            Err(e) => {
                self.err(
                    "metadata.appId",
                    format!("`metadata.appId`: {e}"),
                    Some("the application (client) id, as the Entra portal shows it".to_owned()),
                );
                None
            }
        });

        if spec.display_name.trim().is_empty() {
            self.err(
                "spec.displayName",
                "`spec.displayName` must not be empty",
                None,
            );
        }
        if let Some(d) = &spec.description {
            self.max_len("spec.description", d, MAX_DESCRIPTION);
        }
        let sign_in_audience = spec.sign_in_audience.map(|a| match a {
            RawSignInAudience::AzureADMyOrg => SignInAudience::AzureADMyOrg,
            RawSignInAudience::AzureADMultipleOrgs => SignInAudience::AzureADMultipleOrgs,
            RawSignInAudience::AzureADandPersonalMicrosoftAccount => {
                SignInAudience::AzureADandPersonalMicrosoftAccount
            }
            RawSignInAudience::PersonalMicrosoftAccount => SignInAudience::PersonalMicrosoftAccount,
        });
        let redirect_uris = spec
            .web
            .and_then(|w| w.redirect_uris)
            .map(|uris| self.redirect_uris(&uris));
        let tags = spec.tags.map(|tags| self.tags(&tags));
        let owners = spec.owners.map(|owners| self.owners(&owners));
        let api_permissions = spec.api_permissions.map(|p| self.api_permissions(&p));
        let directory_roles = spec.directory_roles.map(|r| self.directory_roles(&r));
        let certificates = spec
            .certificates
            .map(|c| self.certificates(&c, &spec.display_name));
        let client_secrets = spec.client_secrets.map(|c| self.client_secrets(&c));
        let federated_credentials = spec
            .federated_credentials
            .map(|f| self.federated_credentials(&f));
        let assignments = spec.assignments.map(|a| self.assignments(&a));

        let fields = self.plain_fields(On::Application, "spec");
        let service_principal_fields =
            self.plain_fields(On::ServicePrincipal, "spec.servicePrincipal");
        if let Some(version) = fields.get("api.requestedAccessTokenVersion")
            && version != 2
            && matches!(
                sign_in_audience,
                Some(
                    SignInAudience::AzureADandPersonalMicrosoftAccount
                        | SignInAudience::PersonalMicrosoftAccount
                )
            )
        {
            self.err(
                "spec.api.requestedAccessTokenVersion",
                "`spec.api.requestedAccessTokenVersion` must be 2 when personal Microsoft accounts may sign in",
                Some("set it to 2, or remove it (entraform sends 2 with such an audience)".to_owned()),
            );
        }

        DesiredApp {
            name,
            adopt_app_id,
            protect: metadata.protect.unwrap_or(false),
            display_name: spec.display_name,
            description: spec.description,
            sign_in_audience,
            redirect_uris,
            tags,
            owners,
            api_permissions,
            admin_consent: spec.admin_consent.unwrap_or(true),
            directory_roles,
            certificates,
            client_secrets,
            federated_credentials,
            assignments,
            fields,
            service_principal_fields,
            source: self.source("metadata.name"),
            // Filled in by `validate` once every list is read.
            positions: Positions::default(),
        }
    }

    /// Managed client secrets: a name like a certificate's, the certificate's periods (the
    /// default validity is shorter: Entra ID recommends less than 12 months), and the Key Vault
    /// secret the value goes to.
    fn client_secrets(&mut self, secrets: &[RawClientSecret]) -> Vec<ClientSecretSpec> {
        let mut out = Vec::new();
        for (i, secret) in secrets.iter().enumerate() {
            let at = format!("spec.clientSecrets[{i}]");
            let name_at = format!("{at}.name");
            self.not_blank(&name_at, &secret.name);
            let len = secret.name.chars().count();
            if len > MAX_CERTIFICATE_NAME {
                self.err(
                    &name_at,
                    format!(
                        "`{name_at}` is {len} characters long; at most {MAX_CERTIFICATE_NAME}: entraform recognises the secrets it made by their display name `{}`",
                        certificate_display_name("<name>")
                    ),
                    Some(format!(
                        "shorten the name to {MAX_CERTIFICATE_NAME} characters or fewer"
                    )),
                );
            }
            let validity = self.period(
                &format!("{at}.validity"),
                secret.validity.as_deref(),
                "180d",
            );
            let renew_before = self.period(
                &format!("{at}.renewBefore"),
                secret.renew_before.as_deref(),
                "30d",
            );
            if let (Some(validity), Some(renew)) = (validity, renew_before)
                && renew >= validity
            {
                let field = format!("{at}.renewBefore");
                self.err(
                    &field,
                    format!("`{field}` {renew} must be shorter than `validity` {validity}"),
                    Some("a secret is renewed when it has less than `renewBefore` left; with `renewBefore` ≥ `validity` it would be renewed at once, forever".to_owned()),
                );
            }
            let overlap = self.overlap(&format!("{at}.overlap"), secret.overlap.as_deref());
            let kv = &secret.key_vault;
            let key_vault = self
                .vault_object(&format!("{at}.keyVault"), &kv.vault, ("secret", &kv.secret))
                .map(|(vault, secret)| KeyVaultSecret { vault, secret });
            if let (Some(validity), Some(renew_before), Some(overlap), Some(key_vault)) =
                (validity, renew_before, overlap, key_vault)
            {
                out.push(ClientSecretSpec {
                    name: secret.name.clone(),
                    validity,
                    renew_before,
                    overlap,
                    key_vault,
                });
            }
        }
        self.unique(
            "spec.clientSecrets",
            secrets.iter().map(|c| Some(c.name.clone())).collect(),
            "client secret name",
        );
        out
    }

    /// `overlap`: `0d` is a real choice here (remove the old credential in the same apply),
    /// not a mistake.
    fn overlap(&mut self, at: &str, written: Option<&str>) -> Option<Period> {
        match written.map(str::parse::<Period>) {
            Some(Err(crate::model::PeriodError::Zero(_))) => Some(Period::from_days(0)),
            _ => self.period(at, written, "7d"),
        }
    }

    /// The plain fields ([`crate::model::fields`]) the manifest sets under `under`, each
    /// checked where it is written.
    fn plain_fields(&mut self, on: On, under: &str) -> FieldValues {
        let mut out = FieldValues::default();
        for f in fields::fields_on(on) {
            let at = format!("{under}.{}", f.path);
            let Some(node) = node_at(self.doc, &at) else {
                continue;
            };
            let value = node_json(node);
            let problems = f.problems(&value);
            if problems.is_empty() {
                out.insert(f.path, f.normalize_manifest(&value));
                if f.kind == fields::Kind::PreAuthorized {
                    self.pre_authorized_positions(&at, &value);
                }
            }
            for (below, message) in problems {
                let at = format!("{at}{below}");
                self.err(&at, format!("`{at}` {message}"), None);
            }
        }
        if on == On::Application {
            self.one_value_namespace(under);
        }
        out
    }

    /// Where each `api.preAuthorizedApplications` entry names its client and its scopes: only
    /// the plan can resolve them.
    fn pre_authorized_positions(&mut self, at: &str, value: &serde_json::Value) {
        let names = pre_authorized::entries(&pre_authorized::normalize_manifest(value));
        for (i, entry) in pre_authorized::entries(value).iter().enumerate() {
            // The planner sees the normalised list: the same entries, sorted.
            let name = names
                .iter()
                .find(|n| n.app.eq_ignore_ascii_case(&entry.app))
                .map_or_else(|| entry.app.clone(), |n| n.app.clone());
            let scopes = entry
                .scopes
                .iter()
                .enumerate()
                .map(|(j, s)| (s.clone(), self.source(&format!("{at}[{i}].scopes[{j}]"))))
                .collect();
            let app = self.source(&format!("{at}[{i}].app"));
            self.positions
                .pre_authorized
                .push(PreAuthorizedPositions { name, app, scopes });
        }
    }

    /// App roles and scopes share one namespace of values: Graph refuses a value used by both
    /// (400 `DuplicateValue`, Terraform azuread provider issue #269).
    fn one_value_namespace(&mut self, under: &str) {
        let values = |path: &str| -> Vec<String> {
            node_at(self.doc, &format!("{under}.{path}"))
                .map(node_json)
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|e| {
                    e.get("value")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect()
        };
        let roles = values(Entitlement::AppRole.path());
        for (i, v) in values(Entitlement::Scope.path()).iter().enumerate() {
            if !v.is_empty() && roles.contains(v) {
                let at = format!("{under}.{}[{i}].value", Entitlement::Scope.path());
                self.err(
                    &at,
                    format!("`{v}` is both an app role and a permission scope; Entra ID refuses a value used twice"),
                    Some("give the scope and the role different values (e.g. `Reports.Read` and `Reports.Read.All`)".to_owned()),
                );
            }
        }
    }

    fn max_len(&mut self, at: &str, value: &str, max: usize) -> bool {
        let len = value.chars().count();
        if len > max {
            self.err(
                at,
                format!("`{at}` is {len} characters long; Graph allows at most {max}"),
                None,
            );
            return false;
        }
        true
    }

    fn not_blank(&mut self, at: &str, value: &str) -> bool {
        if value.trim().is_empty() {
            self.err(at, format!("`{at}` must not be empty"), None);
            return false;
        }
        true
    }

    /// Reports the second and later occurrences of equal keys in a list.
    fn unique<K: Eq + std::hash::Hash>(&mut self, list: &str, keys: Vec<Option<K>>, what: &str) {
        let mut seen: HashMap<K, usize> = HashMap::new();
        for (i, key) in keys.into_iter().enumerate() {
            let Some(key) = key else { continue };
            if let Some(first) = seen.get(&key) {
                let first_line = self.span(&format!("{list}[{first}]")).start.line;
                self.err(
                    &format!("{list}[{i}]"),
                    format!("duplicate {what} in `{list}`"),
                    Some(format!("it is already listed on line {first_line}")),
                );
            } else {
                seen.insert(key, i);
            }
        }
    }

    fn redirect_uris(&mut self, uris: &[String]) -> BTreeSet<String> {
        let mut ok = BTreeSet::new();
        for (i, uri) in uris.iter().enumerate() {
            let at = format!("spec.web.redirectUris[{i}]");
            match check_redirect_uri(uri) {
                Ok(()) => {
                    ok.insert(uri.clone());
                }
                Err((message, hint)) => self.err(&at, format!("`{at}`: {message}"), hint),
            }
        }
        self.unique(
            "spec.web.redirectUris",
            uris.iter().map(|u| Some(u.clone())).collect(),
            "redirect URI",
        );
        ok
    }

    fn tags(&mut self, tags: &[String]) -> BTreeSet<String> {
        for (i, tag) in tags.iter().enumerate() {
            let at = format!("spec.tags[{i}]");
            if self.not_blank(&at, tag) && tag.eq_ignore_ascii_case(MANAGED_BY_TAG) {
                self.err(
                    &at,
                    format!(
                        "`{MANAGED_BY_TAG}` is entraform's own tag and cannot be set in a manifest"
                    ),
                    Some("entraform adds it to every app it manages; remove it here".to_owned()),
                );
            }
        }
        self.unique(
            "spec.tags",
            tags.iter().map(|t| Some(t.clone())).collect(),
            "tag",
        );
        tags.iter().cloned().collect()
    }

    fn owners(&mut self, owners: &[String]) -> Vec<OwnerRef> {
        let mut refs = Vec::new();
        let mut keys = Vec::new();
        for (i, owner) in owners.iter().enumerate() {
            let at = format!("spec.owners[{i}]");
            let parsed = if looks_like_guid(owner) {
                parse_guid(owner)
                    .map(|u| OwnerRef::ObjectId(ObjectId(u)))
                    .map_err(|e| (e.to_string(), None))
            } else {
                check_upn(owner).map(|()| OwnerRef::Upn(owner.clone()))
            };
            match parsed {
                Ok(r) => {
                    // UPNs compare case-insensitively in Entra.
                    keys.push(Some(r.to_string().to_lowercase()));
                    refs.push(r);
                    let source = self.source(&at);
                    self.positions.owners.push(source);
                }
                Err((message, hint)) => {
                    keys.push(None);
                    self.err(&at, format!("`{at}`: {message}"), hint);
                }
            }
        }
        self.unique("spec.owners", keys, "owner");
        refs
    }

    fn assignments(&mut self, entries: &[RawAssignment]) -> Vec<AssignmentSpec> {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("spec.assignments[{i}].principal");
            let written = entry.principal.trim();
            let principal = if !self.not_blank(&at, written) {
                None
            } else if looks_like_guid(written) {
                match parse_guid(written) {
                    Ok(u) => Some(PrincipalRef::ObjectId(ObjectId(u))),
                    Err(e) => {
                        self.err(&at, format!("`{at}`: {e}"), None);
                        None
                    }
                }
            } else if written.contains('@') {
                match check_upn(written) {
                    Ok(()) => Some(PrincipalRef::Upn(written.to_owned())),
                    Err((message, hint)) => {
                        self.err(&at, format!("`{at}`: {message}"), hint);
                        None
                    }
                }
            } else {
                Some(PrincipalRef::GroupName(written.to_owned()))
            };
            let role_at = format!("spec.assignments[{i}].role");
            let role = match entry.role.as_deref() {
                None => Some(AssignedRole::Default),
                Some(r) => self.not_blank(&role_at, r).then(|| AssignedRole::parse(r)),
            };
            let (Some(principal), Some(role)) = (principal, role) else {
                keys.push(None);
                continue;
            };
            // UPNs and group names compare case-insensitively in Entra.
            keys.push(Some((principal.to_string().to_lowercase(), role.clone())));
            {
                out.push(AssignmentSpec { principal, role });
                let source = self.source(&at);
                self.positions.assignments.push(source);
                let role_source = match entry.role {
                    Some(_) => self.source(&role_at),
                    None => self.source(&at),
                };
                self.positions.assignment_roles.push(role_source);
            }
        }
        self.unique("spec.assignments", keys, "assignment");
        out
    }

    fn api_permissions(&mut self, entries: &[RawApiPermission]) -> Vec<ApiPermission> {
        if entries.len() > MAX_APIS {
            self.err(
                &format!("spec.apiPermissions[{MAX_APIS}]"),
                format!(
                    "`spec.apiPermissions` lists {} APIs; Graph allows at most {MAX_APIS}",
                    entries.len()
                ),
                None,
            );
        }
        let total: usize = entries
            .iter()
            .map(|e| {
                e.application.as_ref().map_or(0, Vec::len)
                    + e.delegated.as_ref().map_or(0, Vec::len)
            })
            .sum();
        if total > MAX_PERMISSIONS {
            self.err_span(
                self.key_span("spec.apiPermissions"),
                format!(
                    "`spec.apiPermissions` lists {total} permissions; Graph allows at most {MAX_PERMISSIONS}"
                ),
                None,
            );
        }
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let at = format!("spec.apiPermissions[{i}]");
            let api = self.api_ref(&format!("{at}.api"), &entry.api);
            keys.push(api.as_ref().map(|a| match a {
                ApiRef::DisplayName(n) => n.to_lowercase(),
                ApiRef::AppId(id) => id.to_string(),
            }));
            let application =
                self.permission_values(&format!("{at}.application"), entry.application.as_deref());
            let delegated =
                self.permission_values(&format!("{at}.delegated"), entry.delegated.as_deref());
            if application.is_empty() && delegated.is_empty() {
                self.err(
                    &at,
                    format!("`{at}` grants nothing: `application` and `delegated` are both empty"),
                    Some("list the permissions needed, or remove the entry".to_owned()),
                );
            }
            if let Some(api) = api {
                out.push(ApiPermission {
                    api,
                    application,
                    delegated,
                });
                let values = |list: &str, values: Option<&[String]>| {
                    values
                        .unwrap_or_default()
                        .iter()
                        .enumerate()
                        .map(|(j, value)| {
                            (value.clone(), self.source(&format!("{at}.{list}[{j}]")))
                        })
                        .collect()
                };
                let positions = ApiPermissionPositions {
                    api: self.source(&format!("{at}.api")),
                    application: values("application", entry.application.as_deref()),
                    delegated: values("delegated", entry.delegated.as_deref()),
                };
                self.positions.api_permissions.push(positions);
            }
        }
        self.unique("spec.apiPermissions", keys, "API");
        out
    }

    fn api_ref(&mut self, at: &str, api: &str) -> Option<ApiRef> {
        if !self.not_blank(at, api) {
            return None;
        }
        if looks_like_guid(api) {
            return match parse_guid(api) {
                Ok(u) => Some(ApiRef::AppId(AppId(u))),
                Err(e) => {
                    self.err(at, format!("`{at}`: {e}"), None);
                    None
                }
            };
        }
        Some(ApiRef::DisplayName(api.to_owned()))
    }

    fn permission_values(&mut self, at: &str, values: Option<&[String]>) -> BTreeSet<String> {
        let values = values.unwrap_or_default();
        for (i, value) in values.iter().enumerate() {
            let item = format!("{at}[{i}]");
            if self.not_blank(&item, value) && value.chars().any(char::is_whitespace) {
                self.err(
                    &item,
                    format!("`{item}`: permission `{}` contains whitespace", shorten(value)),
                    Some("permission values are single words such as `User.Read`; list each on its own".to_owned()),
                );
            }
        }
        self.unique(
            at,
            values.iter().map(|v| Some(v.clone())).collect(),
            "permission",
        );
        values.iter().cloned().collect()
    }

    fn directory_roles(&mut self, roles: &[RawDirectoryRole]) -> Vec<DirectoryRoleSpec> {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for (i, role) in roles.iter().enumerate() {
            let at = format!("spec.directoryRoles[{i}]");
            let (name, role_at, scope) = match role {
                RawDirectoryRole::Name(n) => (n, at.clone(), None),
                RawDirectoryRole::Scoped(s) => (&s.role, format!("{at}.role"), s.scope.as_ref()),
            };
            let role_ref = if !self.not_blank(&role_at, name) {
                None
            } else if looks_like_guid(name) {
                match parse_guid(name) {
                    Ok(u) => Some(RoleRef::TemplateId(RoleDefinitionId(u))),
                    Err(e) => {
                        self.err(&role_at, format!("`{role_at}`: {e}"), None);
                        None
                    }
                }
            } else {
                Some(RoleRef::Name(name.clone()))
            };
            let scope = scope.cloned().unwrap_or_else(|| "/".to_owned());
            if !scope.starts_with('/') {
                let scope_at = format!("{at}.scope");
                self.err(
                    &scope_at,
                    format!("`{scope_at}` `{}` must start with `/`", shorten(&scope)),
                    Some("`/` is the whole tenant; an administrative unit is `/administrativeUnits/<id>`".to_owned()),
                );
            }
            keys.push(role_ref.as_ref().map(|r| (r.to_string(), scope.clone())));
            if let Some(role) = role_ref {
                out.push(DirectoryRoleSpec { role, scope });
                let source = self.source(&role_at);
                self.positions.directory_roles.push(source);
            }
        }
        self.unique("spec.directoryRoles", keys, "directory role");
        out
    }

    fn certificates(
        &mut self,
        certs: &[RawCertificate],
        display_name: &str,
    ) -> Vec<CertificateSpec> {
        let mut out = Vec::new();
        for (i, cert) in certs.iter().enumerate() {
            let at = format!("spec.certificates[{i}]");
            let name_at = format!("{at}.name");
            self.not_blank(&name_at, &cert.name);
            let len = cert.name.chars().count();
            if len > MAX_CERTIFICATE_NAME {
                self.err(
                    &name_at,
                    format!(
                        "`{name_at}` is {len} characters long; at most {MAX_CERTIFICATE_NAME}: Graph cuts a certificate's display name (`{}`) to {MAX_KEY_DISPLAY_NAME} characters, and entraform recognises the certificates it made by that name",
                        certificate_display_name("<name>")
                    ),
                    Some(format!(
                        "shorten the name to {MAX_CERTIFICATE_NAME} characters or fewer"
                    )),
                );
            }
            let given: Vec<&str> = [
                cert.generate.as_ref().map(|_| "generate"),
                cert.file.as_ref().map(|_| "file"),
                cert.key_vault.as_ref().map(|_| "keyVault"),
            ]
            .into_iter()
            .flatten()
            .collect();
            let source = match (&cert.generate, &cert.file, &cert.key_vault) {
                _ if given.len() > 1 => {
                    self.err_span(
                        self.key_span(&format!("{at}.{}", given[1])),
                        format!(
                            "certificate `{}` has both `{}` and `{}`",
                            shorten(&cert.name),
                            given[0],
                            given[1]
                        ),
                        Some("use `generate` to let entraform create and rotate it, `file` to bring your own, or `keyVault` to register one kept in Key Vault; only one".to_owned()),
                    );
                    None
                }
                (None, None, None) => {
                    self.err_span(
                        self.key_span(&format!("{at}.name")),
                        format!("certificate `{}` has neither `generate` nor `file`", shorten(&cert.name)),
                        Some("add `generate:` (with `pfx` and `pfxPasswordEnv`, or `keyVault`) or `file: <path to a .cer or .pem>`".to_owned()),
                    );
                    None
                }
                (Some(g), _, _) => self
                    .generate(&format!("{at}.generate"), g, display_name)
                    .map(CertificateSource::Generate),
                (_, Some(f), _) => {
                    let field = format!("{at}.file");
                    self.manifest_path(&field, f).map(|path| {
                        self.name_path(PathRole::CertificateFile, &field, &path);
                        CertificateSource::File { path }
                    })
                }
                (_, _, Some(kv)) => self
                    .key_vault(&format!("{at}.keyVault"), kv)
                    .map(CertificateSource::KeyVault),
            };
            if let Some(source) = source {
                out.push(CertificateSpec {
                    name: cert.name.clone(),
                    source,
                });
            }
        }
        self.unique(
            "spec.certificates",
            certs.iter().map(|c| Some(c.name.clone())).collect(),
            "certificate name",
        );
        out
    }

    fn generate(&mut self, at: &str, g: &RawGenerate, display_name: &str) -> Option<GenerateSpec> {
        let subject = g
            .subject
            .clone()
            .unwrap_or_else(|| format!("CN={}", escape_dn_value(display_name)));
        let subject_ok = match parse_dn(&subject) {
            Ok(_) => true,
            Err(e) => {
                let field = format!("{at}.subject");
                let message = if g.subject.is_some() {
                    format!("`{field}` is not a distinguished name: {e}")
                } else {
                    format!(
                        "the default subject `{}` is not a distinguished name: {e}",
                        shorten(&subject)
                    )
                };
                self.err(
                    &field,
                    message,
                    Some(
                        "write `KEY=value` parts separated by commas, e.g. `CN=My App, O=Contoso`"
                            .to_owned(),
                    ),
                );
                false
            }
        };
        let validity = self.period(&format!("{at}.validity"), g.validity.as_deref(), "1y");
        let renew_before = self.period(
            &format!("{at}.renewBefore"),
            g.renew_before.as_deref(),
            "30d",
        );
        if let (Some(validity), Some(renew)) = (validity, renew_before)
            && renew >= validity
        {
            let field = format!("{at}.renewBefore");
            let shown = if g.renew_before.is_some() {
                ""
            } else {
                " (the default)"
            };
            self.err(
                &field,
                format!("`{field}` {renew}{shown} must be shorter than `validity` {validity}"),
                Some("a certificate is renewed when it has less than `renewBefore` left; with `renewBefore` ≥ `validity` it would be renewed at once, forever".to_owned()),
            );
        }
        let overlap = self.overlap(&format!("{at}.overlap"), g.overlap.as_deref());
        let pfx = g
            .pfx
            .as_ref()
            .map(|p| self.manifest_path(&format!("{at}.pfx"), p));
        let env_at = format!("{at}.pfxPasswordEnv");
        let mut env_ok = true;
        match (&g.pfx, &g.pfx_password_env) {
            (_, Some(env)) if !is_env_name(env) => {
                env_ok = false;
                self.err(
                    &env_at,
                    format!("`{env_at}` `{}` is not an environment variable name", shorten(env)),
                    Some("name the variable, not the password: letters, digits and `_`, e.g. `EXO_PFX_PASSWORD`".to_owned()),
                );
            }
            (Some(_), None) => {
                env_ok = false;
                self.err(
                    &format!("{at}.pfx"),
                    format!("`{at}.pfx` needs `pfxPasswordEnv`: the PFX file is always password-protected"),
                    Some("add `pfxPasswordEnv: <VARIABLE>` naming the environment variable that holds the password".to_owned()),
                );
            }
            (None, Some(_)) => {
                env_ok = false;
                self.err(
                    &env_at,
                    format!("`{env_at}` is given but there is no `pfx` to protect"),
                    Some("add `pfx: <path>`, or remove `pfxPasswordEnv` (a Key Vault certificate needs no password)".to_owned()),
                );
            }
            (None, None) if g.key_vault.is_none() => {
                env_ok = false;
                self.err(
                    at,
                    format!("`{at}` has neither `pfx` nor `keyVault`: the private key would go nowhere"),
                    Some("add `keyVault: {vault: <name>, certificate: <name>}` (no file, no password) or `pfx: <path>` with `pfxPasswordEnv`".to_owned()),
                );
            }
            _ => {}
        }
        let key_vault = match &g.key_vault {
            Some(kv) => match self.key_vault(&format!("{at}.keyVault"), kv) {
                Some(kv) => Some(kv),
                None => return None,
            },
            None => None,
        };
        let cer = g
            .cer
            .as_ref()
            .and_then(|c| self.manifest_path(&format!("{at}.cer"), c));
        if let Some(Some(p)) = &pfx {
            self.name_path(PathRole::Pfx, &format!("{at}.pfx"), p);
        }
        if let Some(c) = &cer {
            self.name_path(PathRole::Cer, &format!("{at}.cer"), c);
        }
        let key_type = match g.key_type.unwrap_or(RawKeyType::Rsa2048) {
            RawKeyType::Rsa2048 => KeyType::Rsa2048,
            RawKeyType::Rsa3072 => KeyType::Rsa3072,
            RawKeyType::Rsa4096 => KeyType::Rsa4096,
        };
        let pfx_encryption = match g.pfx_encryption.unwrap_or(RawPfxEncryption::Aes256) {
            RawPfxEncryption::Aes256 => PfxEncryption::Aes256,
            RawPfxEncryption::Legacy3Des => PfxEncryption::Legacy3Des,
        };
        Some(GenerateSpec {
            subject,
            key_type,
            validity: validity?,
            renew_before: renew_before?,
            overlap: overlap?,
            keep_archived: g.keep_archived.unwrap_or(false),
            pfx: pfx.map(|p| p.ok_or(())).transpose().ok()?,
            pfx_password_env: g.pfx_password_env.clone(),
            pfx_encryption,
            cer,
            key_vault,
        })
        .filter(|_| subject_ok && env_ok)
    }

    /// A Key Vault certificate reference: the vault's name rules ("3-24 character string,
    /// containing only 0-9, a-z, A-Z, and not consecutive -", starting with a letter, ending
    /// with a letter or digit) or an `https://` URL, and the object name rules ("1-127
    /// character string, containing only 0-9, a-z, A-Z, and -") from
    /// `articles/key-vault/general/about-keys-secrets-certificates.md`.
    fn key_vault(&mut self, at: &str, kv: &RawKeyVault) -> Option<KeyVaultCertificate> {
        self.vault_object(at, &kv.vault, ("certificate", &kv.certificate))
            .map(|(vault, certificate)| KeyVaultCertificate { vault, certificate })
    }

    /// A vault (name or URL) and an object in it (`(field, name)`: `certificate` or
    /// `secret`), checked; the vault trimmed.
    fn vault_object(
        &mut self,
        at: &str,
        vault: &str,
        (field, name): (&str, &str),
    ) -> Option<(String, String)> {
        let vault_at = format!("{at}.vault");
        let trimmed = vault.trim();
        let vault_name = KeyVaultCertificate {
            vault: trimmed.to_owned(),
            certificate: String::new(),
        }
        .vault_name()
        .to_owned();
        let url_ok = !trimmed.starts_with("http")
            || (trimmed.starts_with("https://")
                && url::Url::parse(trimmed).is_ok_and(|u| {
                    u.host_str().is_some_and(|h| h.contains('.'))
                        && u.query().is_none()
                        && matches!(u.path(), "" | "/")
                }));
        let mut ok = true;
        if !url_ok {
            ok = false;
            self.err(
                &vault_at,
                format!("`{vault_at}` `{}` is not a vault URL", shorten(vault)),
                Some("give the vault's name (`kv-ops`) or its https URL (`https://kv-ops.vault.azure.net`)".to_owned()),
            );
        } else if !is_vault_name(&vault_name) {
            ok = false;
            self.err(
                &vault_at,
                format!("`{vault_at}` `{}` is not a valid vault name", shorten(&vault_name)),
                Some("a vault name is 3 to 24 letters, digits and single hyphens, starting with a letter and ending with a letter or digit".to_owned()),
            );
        }
        let name_ok = (1..=127).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !name_ok {
            ok = false;
            let name_at = format!("{at}.{field}");
            self.err(
                &name_at,
                format!(
                    "`{name_at}` `{}` is not a valid Key Vault {field} name",
                    shorten(name)
                ),
                Some("1 to 127 letters, digits and hyphens, e.g. `exo-automation`".to_owned()),
            );
        }
        ok.then(|| (trimmed.to_owned(), name.to_owned()))
    }

    fn period(&mut self, at: &str, written: Option<&str>, default: &str) -> Option<Period> {
        match written.unwrap_or(default).parse::<Period>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(at, format!("`{at}`: {e}"), None);
                None
            }
        }
    }

    fn name_path(&mut self, role: PathRole, field: &str, path: &Path) {
        self.paths.push(NamedPath {
            role,
            path: path.to_owned(),
            field: field.to_owned(),
            span: self.span(field),
        });
    }

    /// A path in a manifest, resolved against the manifest's folder (as docker compose does).
    fn manifest_path(&mut self, at: &str, written: &str) -> Option<PathBuf> {
        if !self.not_blank(at, written) {
            return None;
        }
        if written.ends_with(['/', '\\']) {
            self.err(
                at,
                format!("`{at}` `{}` names a folder; name a file", shorten(written)),
                None,
            );
            return None;
        }
        Some(clean_join(self.dir, Path::new(written)))
    }

    fn federated_credentials(
        &mut self,
        creds: &[RawFederatedCredential],
    ) -> Vec<FederatedCredentialSpec> {
        if creds.len() > MAX_FEDERATED {
            self.err(
                &format!("spec.federatedCredentials[{MAX_FEDERATED}]"),
                format!(
                    "`spec.federatedCredentials` lists {} credentials; Graph allows at most {MAX_FEDERATED} per app",
                    creds.len()
                ),
                None,
            );
        }
        let mut out = Vec::new();
        for (i, cred) in creds.iter().enumerate() {
            let at = format!("spec.federatedCredentials[{i}]");
            let mut ok = true;
            let name_at = format!("{at}.name");
            ok &= self.not_blank(&name_at, &cred.name)
                && self.max_len(&name_at, &cred.name, MAX_FEDERATED_NAME);
            if let Some(problem) = (!cred.name.trim().is_empty())
                .then(|| federated_name_problem(&cred.name))
                .flatten()
            {
                ok = false;
                self.err(
                    &name_at,
                    format!("`{name_at}` `{}` {problem}", shorten(&cred.name)),
                    Some(FEDERATED_NAME_RULE.to_owned()),
                );
            }
            let issuer_at = format!("{at}.issuer");
            if let Err((message, hint)) = check_url(&cred.issuer) {
                ok = false;
                self.err(&issuer_at, format!("`{issuer_at}`: {message}"), hint);
            }
            let subject_at = format!("{at}.subject");
            ok &= self.not_blank(&subject_at, &cred.subject)
                && self.max_len(&subject_at, &cred.subject, MAX_FEDERATED_FIELD);
            let audiences = cred
                .audiences
                .clone()
                .unwrap_or_else(|| vec![DEFAULT_FEDERATED_AUDIENCE.to_owned()]);
            let aud_at = format!("{at}.audiences");
            match audiences.as_slice() {
                [one] => {
                    let one_at = format!("{aud_at}[0]");
                    ok &= self.not_blank(&one_at, one)
                        && self.max_len(&one_at, one, MAX_FEDERATED_FIELD);
                }
                [] => {
                    ok = false;
                    self.err(
                        &aud_at,
                        format!("`{aud_at}` is empty; Graph needs exactly one audience"),
                        Some(format!(
                            "remove `audiences` to use `{DEFAULT_FEDERATED_AUDIENCE}`"
                        )),
                    );
                }
                _ => {
                    ok = false;
                    self.err(
                        &format!("{aud_at}[1]"),
                        format!(
                            "`{aud_at}` lists {} audiences; Graph allows exactly one",
                            audiences.len()
                        ),
                        Some("create one federated credential per audience".to_owned()),
                    );
                }
            }
            if let Some(d) = &cred.description {
                ok &= self.max_len(&format!("{at}.description"), d, MAX_FEDERATED_FIELD);
            }
            if ok {
                out.push(FederatedCredentialSpec {
                    name: cred.name.clone(),
                    issuer: cred.issuer.clone(),
                    subject: cred.subject.clone(),
                    audiences: audiences.into_iter().collect(),
                    description: cred.description.clone(),
                });
            }
        }
        // Graph compares names ignoring case: `gh` and `GH` are one credential to it.
        self.unique(
            "spec.federatedCredentials",
            creds.iter().map(|c| Some(c.name.to_lowercase())).collect(),
            "federated credential name (names differing only in case are the same to Graph)",
        );
        // Graph refuses a second credential for the same external identity.
        let mut seen: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, cred) in creds.iter().enumerate() {
            let key = (cred.issuer.as_str(), cred.subject.as_str());
            if let Some(&first) = seen.get(&key) {
                let field = format!("spec.federatedCredentials[{i}].subject");
                self.err(
                    &field,
                    format!(
                        "federated credentials `{}` and `{}` have the same `issuer` and `subject`",
                        shorten(&creds[first].name),
                        shorten(&cred.name)
                    ),
                    Some(
                        "Graph allows one credential per issuer and subject; remove one".to_owned(),
                    ),
                );
            } else {
                seen.insert(key, i);
            }
        }
        out
    }
}

/// Finds the node at `path`: `(value span, key span)`. When the path does not exist all the
/// way, the value is `None` and the key is the deepest one found, so a message about a missing
/// or defaulted field points at its parent.
/// The node at `at` (`spec.web.logoutUrl`), unless it is absent or `null`.
fn node_at<'a>(doc: &'a Node, at: &str) -> Option<&'a Node> {
    let mut node = doc;
    for seg in &path(at).0 {
        node = match seg {
            Seg::Key(k) => &node.get(k)?.value,
            Seg::Index(i) => node.index(*i)?,
        };
    }
    match &node.value {
        Value::Scalar(s) if s.kind() == ScalarKind::Null => None,
        _ => Some(node),
    }
}

/// A YAML node as JSON, scalars read by the YAML 1.2 core schema (as serde_yaml reads them).
fn node_json(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Scalar(s) => match s.kind() {
            ScalarKind::Null => J::Null,
            ScalarKind::Bool(b) => J::Bool(b),
            ScalarKind::Number => s
                .text
                .parse::<i64>()
                .map(J::from)
                .or_else(|_| s.text.parse::<f64>().map(J::from))
                .unwrap_or_else(|_| J::String(s.text.clone())),
            ScalarKind::String => J::String(s.text.clone()),
        },
        // Bounded by the parser's nesting limit.
        Value::Seq(items) => J::Array(items.iter().map(node_json).collect()),
        Value::Map(entries) => J::Object(
            entries
                .iter()
                .filter_map(|e| Some((e.key.as_str()?.to_owned(), node_json(&e.value))))
                .collect(),
        ),
        Value::Invalid => J::Null,
    }
}

fn locate(doc: &Node, path: &FieldPath) -> (Option<Span>, Option<Span>) {
    let mut node = doc;
    let mut key_span: Option<Span> = None;
    for seg in &path.0 {
        let next = match seg {
            Seg::Key(k) => node.get(k).map(|e| {
                key_span = Some(e.key.span);
                &e.value
            }),
            Seg::Index(i) => node.index(*i).inspect(|n| {
                key_span = Some(n.span);
            }),
        };
        match next {
            Some(n) => node = n,
            None => return (None, key_span.or(Some(Span::point(doc.span.start)))),
        }
    }
    let value = (node.span.start != node.span.end && !matches!(node.value, Value::Invalid))
        .then_some(node.span);
    (value, key_span)
}

/// What breaks Entra's rule for a federated credential name, if anything (length above the
/// maximum is reported on its own).
fn federated_name_problem(name: &str) -> Option<String> {
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        let bad = match bad {
            ' ' => "a space".to_owned(),
            '\t' => "a tab".to_owned(),
            c => format!("`{c}`"),
        };
        return Some(format!("contains {bad}"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Some("does not start with a letter or digit".to_owned());
    }
    let len = name.chars().count();
    (len < MIN_FEDERATED_NAME)
        .then(|| format!("is {len} characters long; at least {MIN_FEDERATED_NAME}"))
}

fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (1..=64).contains(&bytes.len())
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| edge(b) || b == b'-')
}

/// `Exo_V2_App` → `exo-v2-app`: what the user most likely meant.
fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-')
        .chars()
        .take(64)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

fn is_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains("--")
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Something meant as a GUID: about GUID-length, hyphenated, no spaces, and nearly all hex
/// digits (so a typo inside a GUID is reported as a bad GUID, not taken for a name).
fn looks_like_guid(s: &str) -> bool {
    let hex = s.chars().filter(char::is_ascii_hexdigit).count();
    (30..=40).contains(&s.len())
        && s.contains('-')
        && hex >= 28
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '{' | '}'))
}

type Refusal = (String, Option<String>);

fn check_upn(upn: &str) -> Result<(), Refusal> {
    let hint = || {
        Some(
            "an owner is a user principal name (`admin@contoso.onmicrosoft.com`) or an object id"
                .to_owned(),
        )
    };
    let Some((local, domain)) = upn.split_once('@') else {
        return Err((
            format!("`{}` is not a user principal name (no `@`)", shorten(upn)),
            hint(),
        ));
    };
    if upn.chars().count() > MAX_UPN {
        return Err((
            format!("`{}` is longer than {MAX_UPN} characters", shorten(upn)),
            None,
        ));
    }
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~&+=$%*/?`{|}".contains(c));
    if !local_ok {
        return Err((
            format!(
                "`{}` is not a user principal name: `{}` is not a valid user name",
                shorten(upn),
                shorten(local)
            ),
            hint(),
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if !domain_ok {
        return Err((
            format!(
                "`{}` is not a user principal name: `{}` is not a domain",
                shorten(upn),
                shorten(domain)
            ),
            hint(),
        ));
    }
    Ok(())
}

fn check_redirect_uri(uri: &str) -> Result<(), Refusal> {
    check_url(uri)?;
    if uri.chars().count() > MAX_REDIRECT_URI {
        return Err((
            format!("is longer than {MAX_REDIRECT_URI} characters"),
            None,
        ));
    }
    if uri.contains('*') {
        return Err((
            "wildcards are not allowed in redirect URIs".to_owned(),
            None,
        ));
    }
    if uri.contains('#') {
        return Err((
            "a redirect URI cannot have a fragment (`#...`)".to_owned(),
            None,
        ));
    }
    Ok(())
}

/// Absolute `https://` URLs, or `http://` for `localhost` and `127.0.0.1` only, as Entra requires.
fn check_url(text: &str) -> Result<(), Refusal> {
    let shown = shorten(text);
    if text.chars().any(char::is_whitespace) {
        return Err((format!("`{shown}` contains whitespace"), None));
    }
    let parsed = url::Url::parse(text).map_err(|e| {
        (
            format!("`{shown}` is not an absolute URL ({e})"),
            Some(format!(
                "write the whole URL, e.g. `https://{}`",
                shorten(text.trim_start_matches('/'))
            )),
        )
    })?;
    match parsed.scheme() {
        "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        "http" if matches!(parsed.host_str(), Some("localhost" | "127.0.0.1")) => Ok(()),
        "http" => Err((
            format!("`{shown}` uses `http`; Entra accepts it only for `localhost` and `127.0.0.1`"),
            Some(format!(
                "use `https://{}`",
                text.trim_start_matches("http://")
            )),
        )),
        scheme => Err((
            format!("`{shown}` must be an `https` URL, not `{scheme}`"),
            did_you_mean(scheme, ["https", "http"]).map(|s| format!("did you mean `{s}://`?")),
        )),
    }
}

/// Joins and removes `.` and `..` lexically; the files need not exist yet.
pub fn clean_join(dir: &Path, relative: &Path) -> PathBuf {
    let joined = if relative.is_absolute() {
        relative.to_owned()
    } else {
        dir.join(relative)
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else if !matches!(
                    out.components().next_back(),
                    Some(Component::RootDir | Component::Prefix(_))
                ) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_uniquename_pattern() {
        for ok in ["a", "exo-v2-app", "0", "a1-b2", &"a".repeat(64)] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "Exo", "a_b", "a.b", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert_eq!(slugify("Exo_V2_App"), "exo-v2-app");
        assert_eq!(slugify("--My  App!"), "my-app");
    }

    #[test]
    fn redirect_uris_need_https_except_on_loopback() {
        for ok in [
            "https://app.contoso.com/auth",
            "http://localhost",
            "http://localhost:8080/cb",
            "http://127.0.0.1/x",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://contoso.com",
            "ftp://x.com",
            "localhost",
            "https://x.com/#a",
            "https://*.contoso.com",
            "htps://x.com",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url("htps://x.com").unwrap_err().1.as_deref(),
            Some("did you mean `https://`?")
        );
    }

    #[test]
    fn upns_are_checked_loosely_but_surely() {
        for ok in [
            "admin@contoso.onmicrosoft.com",
            "first.last@contoso.com",
            "o'brien@x.io",
        ] {
            assert_eq!(check_upn(ok), Ok(()), "{ok}");
        }
        for bad in [
            "admin",
            "admin@contoso",
            "@contoso.com",
            "a b@contoso.com",
            "a@-x.com",
            "a..b@x.com",
            "a@x.123",
        ] {
            assert!(check_upn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn manifest_paths_join_lexically() {
        let p = |d: &str, r: &str| clean_join(Path::new(d), Path::new(r));
        assert_eq!(
            p("manifests", "secrets/a.pfx"),
            PathBuf::from("manifests/secrets/a.pfx")
        );
        assert_eq!(
            p("manifests", "../secrets/a.pfx"),
            PathBuf::from("secrets/a.pfx")
        );
        assert_eq!(p("", "./a.pfx"), PathBuf::from("a.pfx"));
        assert_eq!(p("", "../a.pfx"), PathBuf::from("../a.pfx"));
        assert_eq!(p("/m", "../../a.pfx"), PathBuf::from("/a.pfx"));
        assert_eq!(p("manifests", "/etc/a.pfx"), PathBuf::from("/etc/a.pfx"));
    }

    #[test]
    fn guid_lookalikes_are_told_apart_from_names() {
        assert!(looks_like_guid("3f76be04-5cf0-47f1-9df6-d05981a450fc"));
        assert!(looks_like_guid("3f76be04-5cf0-47f1-9df6-d05981a450f"));
        assert!(looks_like_guid("00000002-0000-0ff1-ce00-00000000000g"));
        assert!(!looks_like_guid("Office 365 Exchange Online"));
        assert!(!looks_like_guid("Microsoft Graph"));
    }
}
