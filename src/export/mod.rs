//! Pure: a live application (as `observe` read it), the raw JSON Graph returned for it and the
//! catalog → the manifest that describes it, and what the manifest language cannot say.
//!
//! An exported manifest must plan to no changes (an adopted app: exactly one, setting its
//! `uniqueName` and the managed tag), so every field is written the way the planner reads it:
//! APIs by a display name that resolves to exactly that service principal, permissions by a
//! value that resolves to exactly that id, roles by a name that resolves to exactly that
//! definition. Where a present list cannot hold everything the tenant has (a list is
//! authoritative: what it leaves out would be removed), the whole field is left out — absent
//! means "not managed" — and the reason is reported. The text is then validated with
//! [`crate::manifest::parse`]; a field the validator refuses is left out the same way.

mod names;
mod unmanaged;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

pub use names::{base_name, first_free, is_valid_name, kept_name, slug};

use crate::cert::PublicCertificate;
use crate::manifest;
use crate::model::entitlements::Entitlement;
use crate::model::fields::{self, FieldValues, On};
use crate::model::pre_authorized;
use crate::model::{
    AppId, AppRole, Catalog, DEFAULT_FEDERATED_AUDIENCE, KeyId, LiveApp, MANAGED_BY_TAG, ObjectId,
    PROTECTED_TAG, PermissionId, PermissionKind, PermissionScope, ResourceServicePrincipal,
    SignInAudience,
};
use crate::planner::normalize;
use yaml::{Lines, scalar};

/// The modeline editors read; its path assumes the manifest sits one folder below the
/// repository root (`manifests/app.yaml`), as the examples do.
pub const MODELINE: &str = "# yaml-language-server: $schema=../schema/manifest.schema.json";

/// The folder, next to the manifests, that exported public certificates go to.
pub const CERTIFICATE_FOLDER: &str = "certs";

/// Everything known about one application to export.
#[derive(Debug, Clone, Copy)]
pub struct AppExport<'a> {
    /// `metadata.name`: the app's `uniqueName` (see [`kept_name`]) or a free slug.
    pub name: &'a str,
    pub live: &'a LiveApp,
    /// The application object as Graph returned it (default properties).
    pub application: &'a Value,
    /// Its service principal as Graph returned it, when it has one.
    pub service_principal: Option<&'a Value>,
    /// Certificate bytes (DER) of the app's key credentials, by key id, where Graph returned them.
    pub keys: &'a BTreeMap<KeyId, Vec<u8>>,
    pub catalog: &'a Catalog,
    /// Display names more than one service principal in the tenant carries: an API with such a
    /// name is written by its appId.
    pub shared_api_names: &'a BTreeSet<String>,
    /// The `metadata.name` of each app exported with this one, by appId: a pre-authorized
    /// client among them is written by name.
    pub exported_names: &'a BTreeMap<AppId, String>,
}

/// One exported manifest.
#[derive(Debug, Clone)]
pub struct Exported {
    pub name: String,
    /// `<name>.yaml`.
    pub file_name: String,
    pub manifest: String,
    /// The manifest carries `metadata.appId`: the first apply adopts the app.
    pub adopts: bool,
    /// Public certificates the manifest names, to be written next to it.
    pub certificates: Vec<CertificateFile>,
    /// What the app has that the manifest does not express, one line each.
    pub unmanaged: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CertificateFile {
    /// Relative to the manifest's folder, as the manifest writes it.
    pub path: PathBuf,
    pub certificate: PublicCertificate,
}

/// Writes the manifest for one application, or says why none can be written.
pub fn export_app(input: &AppExport<'_>) -> Result<Exported, String> {
    let live = input.live;
    let file_name = format!("{}.yaml", input.name);
    // What the table of plain fields expresses is written from it, not reported.
    let mut unmanaged =
        unmanaged::application(&without_plain_fields(input.application, On::Application));
    if live.service_principal.is_none() {
        unmanaged.push("it has no service principal; the first apply creates one".to_owned());
    }
    if let Some(sp) = input.service_principal {
        unmanaged.extend(unmanaged::service_principal(
            &without_plain_fields(sp, On::ServicePrincipal),
            &live.tags,
        ));
    }
    // From Graph's JSON, as observe reads them.
    let values = FieldValues::read(On::Application, input.application);
    let mut plain = plain_fields(&values, On::Application);
    if let Some(pre) = values
        .get(pre_authorized::PATH)
        .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    {
        // Clients by name where they are exported too, scopes by value: as a manifest says.
        let name_of = |app_id: &str| {
            let app_id: AppId = app_id.parse().ok()?;
            input.exported_names.get(&app_id).cloned()
        };
        let scopes = values.get(Entitlement::Scope.path());
        let written = pre_authorized::export(pre, scopes, name_of);
        fields::set_path(&mut plain, pre_authorized::PATH, written);
    }
    let web = plain.remove("web");

    let mut sections: Vec<Section> = Vec::new();
    sections.extend(description(live));
    sections.extend(sign_in_audience(live, &mut unmanaged));
    sections.push(web_section(live, web.as_ref()));
    sections.push(tags(live));
    sections.extend(owners(live, &mut unmanaged));
    let (permissions, consent) = api_permissions(input, &mut unmanaged);
    sections.extend(permissions);
    sections.extend(consent);
    sections.extend(directory_roles(input, &mut unmanaged));
    sections.extend(assignments(input, &mut unmanaged));
    let (certificates, files) = certificates(input, &mut unmanaged);
    sections.extend(certificates);
    sections.extend(federated_credentials(live, &mut unmanaged));
    for (key, value) in &plain {
        let key = fields::fields_on(On::Application)
            .map(|f| f.path.split('.').next().unwrap_or(f.path))
            .find(|top| top == key)
            .expect("a key from the table");
        let mut l = Lines::new();
        l.value(1, key, value);
        sections.push(Section::new(key, l));
    }
    if let Some(sp) = input.service_principal {
        let values = plain_fields(
            &FieldValues::read_service_principal(sp, &live.tags),
            On::ServicePrincipal,
        );
        if !values.is_empty() {
            let mut l = Lines::new();
            l.value(1, "servicePrincipal", &Value::Object(values));
            sections.push(Section::new("servicePrincipal", l));
        }
    }

    let mut files = files;
    // The validator has the last word: a field it refuses is left out, with its reason.
    if let Err(first) = parse(&file_name, &document(input, &sections, &unmanaged, false)) {
        let mut kept = Vec::new();
        for section in sections {
            let section = match parse(&file_name, &probe(&section)) {
                Err(_) if section.key == "owners" => owners_one_by_one(live, &file_name),
                _ => section,
            };
            match parse(&file_name, &probe(&section)) {
                Ok(()) => kept.push(section),
                Err(reason) => {
                    if section.key == "certificates" {
                        files.clear();
                    }
                    unmanaged.push(format!("`{}` is not exported: {reason}", section.key));
                }
            }
        }
        sections = kept;
        if let Err(reason) = parse(&file_name, &document(input, &sections, &unmanaged, false)) {
            return Err(format!(
                "its manifest does not validate ({first}; then {reason})"
            ));
        }
    }
    let has_certificates = !files.is_empty();
    let manifest = document(input, &sections, &unmanaged, has_certificates);
    Ok(Exported {
        name: input.name.to_owned(),
        file_name,
        manifest,
        adopts: live.unique_name.is_none(),
        certificates: files,
        unmanaged,
    })
}

/// A top-level `spec` field, as lines at indent 1.
#[derive(Debug)]
struct Section {
    key: &'static str,
    lines: Lines,
}

impl Section {
    fn new(key: &'static str, lines: Lines) -> Self {
        Self { key, lines }
    }
}

fn parse(file_name: &str, text: &str) -> Result<(), String> {
    manifest::parse(Path::new(file_name), text.as_bytes())
        .map(|_| ())
        .map_err(|e| match e {
            manifest::ManifestError::Invalid(report) => report
                .diagnostics
                .first()
                .map_or_else(|| "it is invalid".to_owned(), |d| d.message.clone()),
            other => other.to_string(),
        })
}

/// A minimal manifest holding one section, to learn whether the validator accepts it.
fn probe(section: &Section) -> String {
    format!(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: probe\nspec:\n  displayName: probe\n{}",
        section.lines.as_str()
    )
}

fn document(
    input: &AppExport<'_>,
    sections: &[Section],
    unmanaged: &[String],
    has_certificates: bool,
) -> String {
    let live = input.live;
    let mut out = Lines::new();
    out.raw(0, MODELINE, None);
    out.comment(0, "");
    out.comment(
        0,
        &format!(
            "Exported by `entraform export` from {} (appId {}).",
            yaml::quoted(&live.display_name),
            live.app_id
        ),
    );
    if live.unique_name.is_none() {
        out.comment(
            0,
            &format!(
                "The first `entraform apply` adopts it: it sets its uniqueName to `{}`",
                input.name
            ),
        );
        out.comment(
            0,
            &format!("and adds the `{MANAGED_BY_TAG}` tag; nothing is recreated."),
        );
    } else if !live.tags.iter().any(|t| t == MANAGED_BY_TAG) {
        out.comment(
            0,
            &format!("Its uniqueName is set already; the first `entraform apply` adds the `{MANAGED_BY_TAG}` tag."),
        );
    }
    if !unmanaged.is_empty() {
        out.comment(0, "");
        out.comment(
            0,
            "Not expressed in this manifest, so entraform leaves it as it is in the tenant:",
        );
        for item in unmanaged {
            out.comment(0, &format!("  - {item}"));
        }
    }
    if has_certificates {
        out.comment(0, "");
        out.comment(
            0,
            "Certificates are exported as their public certificates (`file:`): entraform cannot",
        );
        out.comment(
            0,
            "export private keys. To have entraform generate and rotate one instead, replace it",
        );
        out.comment(
            0,
            "with a `generate:` certificate (docs/export.md says how).",
        );
    }
    out.raw(0, "apiVersion: entraform/v1", None);
    out.raw(0, "kind: Application", None);
    out.open(0, "metadata", None);
    out.field(1, "name", &scalar(input.name), None);
    if live.unique_name.is_none() {
        out.field(
            1,
            "appId",
            &live.app_id.to_string(),
            Some("adopt this existing app"),
        );
    }
    if live.tags.iter().any(|t| t == PROTECTED_TAG) {
        out.field(
            1,
            "protect",
            "true",
            Some(&format!("it carries the `{PROTECTED_TAG}` tag")),
        );
    }
    out.open(0, "spec", None);
    out.field(1, "displayName", &scalar(&live.display_name), None);
    for section in sections {
        out.append(&section.lines);
    }
    out.into_string()
}

fn description(live: &LiveApp) -> Option<Section> {
    let d = normalize::description(live.description.as_deref())?;
    let mut l = Lines::new();
    l.field(1, "description", &scalar(d), None);
    Some(Section::new("description", l))
}

fn sign_in_audience(live: &LiveApp, unmanaged: &mut Vec<String>) -> Option<Section> {
    let Some(audience) = SignInAudience::ALL
        .into_iter()
        .find(|a| normalize::same_audience(&live.sign_in_audience, *a))
    else {
        unmanaged.push(format!(
            "signInAudience `{}`, which the manifest language does not know",
            live.sign_in_audience
        ));
        return None;
    };
    let mut l = Lines::new();
    let default = (audience == SignInAudience::AzureADMyOrg).then_some("the default");
    l.field(1, "signInAudience", audience.as_str(), default);
    Some(Section::new("signInAudience", l))
}

/// `web`: its redirect URIs, and the plain fields under it that the tenant has set.
fn web_section(live: &LiveApp, plain: Option<&Value>) -> Section {
    let uris: Vec<String> = sorted(live.redirect_uris.iter().cloned());
    let mut l = Lines::new();
    l.open(1, "web", None);
    l.list(2, "redirectUris", &uris, None);
    for (key, value) in plain.and_then(Value::as_object).into_iter().flatten() {
        l.value(2, key, value);
    }
    Section::new("web", l)
}

/// The plain fields on `on` whose values are not the default, nested by path.
fn plain_fields(values: &FieldValues, on: On) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (f, value) in values.on(on) {
        if let Some(v) = f.export(value) {
            fields::set_path(&mut out, f.path, v);
        }
    }
    out
}

/// Graph's JSON without the plain fields on `on`.
fn without_plain_fields(object: &Value, on: On) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        for f in fields::fields_on(on) {
            fields::remove_path(map, f.path);
        }
    }
    object
}

fn tags(live: &LiveApp) -> Section {
    let tags: Vec<String> = normalize::user_tags(&live.tags).into_iter().collect();
    let mut l = Lines::new();
    l.list(1, "tags", &tags, None);
    Section::new("tags", l)
}

fn owners(live: &LiveApp, unmanaged: &mut Vec<String>) -> Option<Section> {
    let Some(owners) = &live.owners else {
        unmanaged.push("its owners (they were not read)".to_owned());
        return None;
    };
    Some(owners_section(owners.iter().map(|o| {
        match o.user_principal_name.as_deref().filter(|u| url_safe(u)) {
            Some(upn) => (false, upn.to_owned()),
            None => (true, o.id.to_string()),
        }
    })))
}

/// Owners when the validator refused one of the user names: each user by name if the
/// validator takes that name, else by id.
fn owners_one_by_one(live: &LiveApp, file_name: &str) -> Section {
    let owners = live.owners.as_deref().unwrap_or_default();
    owners_section(owners.iter().map(|o| {
        let id = (true, o.id.to_string());
        match o.user_principal_name.as_deref().filter(|u| url_safe(u)) {
            Some(upn) => {
                let alone = owners_section([(false, upn.to_owned())].into_iter());
                if parse(file_name, &probe(&alone)).is_ok() {
                    (false, upn.to_owned())
                } else {
                    id
                }
            }
            None => id,
        }
    }))
}

/// Users by name first, then owners by id (service principals, and users whose name cannot be
/// used), each group sorted.
fn owners_section(labels: impl Iterator<Item = (bool, String)>) -> Section {
    let mut labels: Vec<(bool, String)> = labels.collect();
    labels.sort();
    let labels: Vec<String> = labels.into_iter().map(|(_, l)| l).collect();
    let mut l = Lines::new();
    l.list(1, "owners", &labels, None);
    Section::new("owners", l)
}

/// A user principal name the planner can look up: guests' `#EXT#` names (and anything else
/// that needs escaping in a URL query) are written by object id instead.
fn url_safe(upn: &str) -> bool {
    !upn.contains(['#', '&', '+', '%'])
}

/// One API's permissions as the manifest writes them.
struct ApiEntry<'c> {
    resource: &'c ResourceServicePrincipal,
    application: BTreeSet<String>,
    delegated: BTreeSet<String>,
}

fn api_permissions(
    input: &AppExport<'_>,
    unmanaged: &mut Vec<String>,
) -> (Option<Section>, Option<Section>) {
    let live = input.live;
    let catalog = input.catalog;
    let mut problems = Vec::new();
    let mut entries: BTreeMap<ObjectId, ApiEntry<'_>> = BTreeMap::new();
    for rra in &live.required_resource_access {
        let Some(resource) = catalog
            .resources
            .iter()
            .find(|r| r.app_id == rra.resource_app_id)
        else {
            if !rra.resource_access.is_empty() {
                problems.push(format!(
                    "permissions on the API {}, which has no service principal in this tenant",
                    rra.resource_app_id
                ));
            }
            continue;
        };
        for access in &rra.resource_access {
            let value = match access.kind {
                PermissionKind::Role => app_role_value(resource, access.id),
                PermissionKind::Scope => scope_value(resource, access.id),
            };
            match value {
                Ok(value) => {
                    let entry = entries.entry(resource.object_id).or_insert(ApiEntry {
                        resource,
                        application: BTreeSet::new(),
                        delegated: BTreeSet::new(),
                    });
                    match access.kind {
                        PermissionKind::Role => entry.application.insert(value),
                        PermissionKind::Scope => entry.delegated.insert(value),
                    };
                }
                Err(why) => problems.push(format!(
                    "{} permission on {}: {why}",
                    kind_name(access.kind),
                    resource.display_name
                )),
            }
        }
    }
    if !problems.is_empty() {
        for p in problems {
            unmanaged.push(format!("{p}; `apiPermissions` is not exported"));
        }
        unmanaged.extend(grant_facts(input, &BTreeMap::new(), false));
        return (None, None);
    }

    let labels = api_labels(&entries, input.shared_api_names);
    let mut ordered: Vec<(&String, &ApiEntry<'_>)> = entries
        .values()
        .map(|e| (&labels[&e.resource.object_id], e))
        .collect();
    ordered.sort_by(|a, b| a.0.cmp(b.0));
    let mut l = Lines::new();
    if ordered.is_empty() {
        l.field(1, "apiPermissions", "[]", None);
    } else {
        l.open(1, "apiPermissions", None);
        for (label, entry) in &ordered {
            l.raw(2, &format!("- api: {}", scalar(label)), None);
            let values = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
            if !entry.application.is_empty() {
                l.list(3, "application", &values(&entry.application), None);
            }
            if !entry.delegated.is_empty() {
                l.list(3, "delegated", &values(&entry.delegated), None);
            }
        }
    }
    let consent_problems = grant_facts(input, &entries, true);
    let granted = consent_problems.is_empty();
    unmanaged.extend(consent_problems);
    let mut c = Lines::new();
    if granted {
        let note = if ordered.is_empty() {
            "the default"
        } else {
            "the default; every permission above is granted"
        };
        c.field(1, "adminConsent", "true", Some(note));
    } else {
        c.field(
            1,
            "adminConsent",
            "false",
            Some("the grants do not match the permissions above; see the top of this file"),
        );
    }
    (
        Some(Section::new("apiPermissions", l)),
        Some(Section::new("adminConsent", c)),
    )
}

/// `Microsoft Graph`, or the appId where the display name would not find exactly this API.
fn api_labels(
    entries: &BTreeMap<ObjectId, ApiEntry<'_>>,
    shared: &BTreeSet<String>,
) -> BTreeMap<ObjectId, String> {
    let names: Vec<String> = entries
        .values()
        .map(|e| e.resource.display_name.to_lowercase())
        .collect();
    entries
        .values()
        .map(|e| {
            let name = &e.resource.display_name;
            // The manifest compares API names without case for duplicates.
            let clash = names.iter().filter(|n| **n == name.to_lowercase()).count() > 1;
            let by_name =
                !name.trim().is_empty() && !shared.contains(name) && !guid_like(name) && !clash;
            let label = if by_name {
                name.clone()
            } else {
                e.resource.app_id.to_string()
            };
            (e.resource.object_id, label)
        })
        .collect()
}

fn kind_name(kind: PermissionKind) -> &'static str {
    match kind {
        PermissionKind::Role => "an application",
        PermissionKind::Scope => "a delegated",
    }
}

/// The value that names app role `id` on `resource`, if the planner resolves that value back to
/// this very role.
fn app_role_value(resource: &ResourceServicePrincipal, id: PermissionId) -> Result<String, String> {
    let allows_apps = |r: &AppRole| r.allowed_member_types.iter().any(|t| t == "Application");
    let role = resource
        .app_roles
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| format!("no application permission with id {id}"))?;
    let value = usable_value(role.value.as_deref(), id)?;
    let resolved = resource
        .app_roles
        .iter()
        .filter(|r| r.value.as_deref() == Some(value))
        .find(|r| allows_apps(r) && r.is_enabled);
    match resolved {
        Some(r) if r.id == id => Ok(value.to_owned()),
        _ if !role.is_enabled => Err(format!("`{value}` ({id}) is disabled")),
        _ if !allows_apps(role) => Err(format!("`{value}` ({id}) is not for applications")),
        _ => Err(format!("`{value}` names another permission than {id}")),
    }
}

fn scope_value(resource: &ResourceServicePrincipal, id: PermissionId) -> Result<String, String> {
    let scope: &PermissionScope = resource
        .oauth2_permission_scopes
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| format!("no delegated permission with id {id}"))?;
    let value = usable_value(scope.value.as_deref(), id)?;
    let resolved = resource
        .oauth2_permission_scopes
        .iter()
        .filter(|s| s.value.as_deref() == Some(value))
        .find(|s| s.is_enabled);
    match resolved {
        Some(s) if s.id == id => Ok(value.to_owned()),
        _ if !scope.is_enabled => Err(format!("`{value}` ({id}) is disabled")),
        _ => Err(format!("`{value}` names another permission than {id}")),
    }
}

fn usable_value(value: Option<&str>, id: PermissionId) -> Result<&str, String> {
    match value {
        Some(v) if !v.trim().is_empty() && !v.chars().any(char::is_whitespace) => Ok(v),
        _ => Err(format!("permission {id} has no usable value")),
    }
}

/// Grants that do not match the declared permissions, one line each; empty when
/// `adminConsent: true` describes the tenant exactly. With `declared` false the permissions are
/// not exported, and only facts worth knowing are listed.
fn grant_facts(
    input: &AppExport<'_>,
    entries: &BTreeMap<ObjectId, ApiEntry<'_>>,
    declared: bool,
) -> Vec<String> {
    let Some(sp) = &input.live.service_principal else {
        let nothing_declared = entries
            .values()
            .all(|e| e.application.is_empty() && e.delegated.is_empty());
        return if declared && !nothing_declared {
            vec!["its permissions are not granted (it has no service principal)".to_owned()]
        } else {
            Vec::new()
        };
    };
    let catalog = input.catalog;
    let api_name = |id: ObjectId| {
        catalog
            .resources
            .iter()
            .find(|r| r.object_id == id)
            .map_or_else(|| format!("the API {id}"), |r| r.display_name.clone())
    };
    let role_value = |resource: ObjectId, role: PermissionId| {
        catalog
            .resources
            .iter()
            .find(|r| r.object_id == resource)
            .and_then(|r| r.app_roles.iter().find(|x| x.id == role))
            .and_then(|r| r.value.clone())
            .unwrap_or_else(|| role.to_string())
    };
    let mut out = Vec::new();
    if declared {
        let mut wanted: BTreeSet<(ObjectId, String)> = BTreeSet::new();
        for (id, e) in entries {
            wanted.extend(e.application.iter().map(|v| (*id, v.clone())));
        }
        let granted: BTreeSet<(ObjectId, String)> = sp
            .app_role_assignments
            .iter()
            .map(|a| (a.resource_id, role_value(a.resource_id, a.app_role_id)))
            .collect();
        for (resource, value) in wanted.difference(&granted) {
            out.push(format!(
                "application permission {}/{value} is declared but not granted",
                api_name(*resource)
            ));
        }
        for (resource, value) in granted.difference(&wanted) {
            out.push(format!(
                "application permission {}/{value} is granted but not declared",
                api_name(*resource)
            ));
        }
    }
    let mut tenant_wide: BTreeMap<ObjectId, Vec<BTreeSet<String>>> = BTreeMap::new();
    for g in &sp.delegated_grants {
        if g.consent_type.eq_ignore_ascii_case("AllPrincipals") {
            tenant_wide
                .entry(g.resource_id)
                .or_default()
                .push(normalize::scope_set(&g.scope));
        } else {
            out.push(format!(
                "delegated consent by one user ({}) on {}: {}",
                g.consent_type,
                api_name(g.resource_id),
                g.scope.trim()
            ));
        }
    }
    if declared {
        let no_scopes = BTreeSet::new();
        let resources: BTreeSet<ObjectId> = entries
            .iter()
            .filter(|(_, e)| !e.delegated.is_empty())
            .map(|(id, _)| *id)
            .chain(tenant_wide.keys().copied())
            .collect();
        for resource in resources {
            let want = entries.get(&resource).map_or(&no_scopes, |e| &e.delegated);
            let have = tenant_wide.get(&resource).map_or(&[][..], Vec::as_slice);
            let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(" ");
            let name = api_name(resource);
            match have {
                [] => out.push(format!(
                    "delegated permissions {} on {name} are declared but not granted tenant-wide",
                    join(want)
                )),
                [one] if one == want => {}
                [one] if want.is_empty() => out.push(format!(
                    "a tenant-wide delegated grant on {name} ({}) that no permission declares",
                    join(one)
                )),
                [one] => out.push(format!(
                    "the tenant-wide delegated grant on {name} is `{}`, but `{}` is declared",
                    join(one),
                    join(want)
                )),
                many => out.push(format!(
                    "{} tenant-wide delegated grants on {name}",
                    many.len()
                )),
            }
        }
    }
    out
}

fn directory_roles(input: &AppExport<'_>, unmanaged: &mut Vec<String>) -> Option<Section> {
    let defs = &input.catalog.role_definitions;
    let live = input
        .live
        .service_principal
        .as_ref()
        .map(|sp| sp.directory_role_assignments.as_slice())
        .unwrap_or(&[]);
    let mut roles: BTreeSet<(String, String)> = BTreeSet::new();
    let mut problems = Vec::new();
    for a in live {
        let Some(def) = defs
            .iter()
            .find(|d| d.id == a.role_definition_id || d.template_id == Some(a.role_definition_id))
        else {
            problems.push(format!(
                "directory role {} (no such role definition)",
                a.role_definition_id
            ));
            continue;
        };
        let name = &def.display_name;
        let unique = defs.iter().filter(|d| d.display_name == *name).count() == 1;
        let label = if unique && !name.trim().is_empty() && !guid_like(name) {
            name.clone()
        } else {
            def.id.to_string()
        };
        roles.insert((label, a.directory_scope_id.clone()));
    }
    if !problems.is_empty() {
        for p in problems {
            unmanaged.push(format!("{p}; `directoryRoles` is not exported"));
        }
        return None;
    }
    let mut l = Lines::new();
    if roles.is_empty() {
        l.field(1, "directoryRoles", "[]", None);
    } else {
        l.open(1, "directoryRoles", None);
        for (role, scope) in &roles {
            if scope == "/" {
                l.raw(2, &format!("- {}", scalar(role)), None);
            } else {
                l.raw(2, &format!("- role: {}", scalar(role)), None);
                l.field(3, "scope", &scalar(scope), None);
            }
        }
    }
    Some(Section::new("directoryRoles", l))
}

/// Users by UPN, groups by id (a group's name may be shared, and only an id names one group for
/// sure; the name is the comment), each with its role's value.
fn assignments(input: &AppExport<'_>, unmanaged: &mut Vec<String>) -> Option<Section> {
    let sp = input.live.service_principal.as_ref()?;
    let Some(live) = &sp.assigned_to else {
        unmanaged.push("its users and groups (they were not read)".to_owned());
        return None;
    };
    let catalog = input.catalog;
    let mut entries: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    for a in live.iter().filter(|a| a.is_user_or_group()) {
        let role = if a.app_role_id == crate::planner::assignments::DEFAULT_ACCESS {
            None
        } else {
            match input
                .live
                .app_roles
                .iter()
                .find(|r| r.id == a.app_role_id)
                .and_then(|r| r.value.clone())
            {
                Some(v) => Some(v),
                None => {
                    unmanaged.push(format!(
                        "an assignment to the role {} the app does not define; `assignments` is not exported",
                        a.app_role_id
                    ));
                    return None;
                }
            }
        };
        let (principal, comment) = match catalog.users.iter().find(|u| u.id == a.principal_id) {
            Some(u) => (u.user_principal_name.clone(), String::new()),
            None => (
                a.principal_id.to_string(),
                a.principal_display_name.clone().unwrap_or_default(),
            ),
        };
        entries.insert((principal, comment, role));
    }
    // None assigned: left unmanaged, as an app with none usually wants.
    if entries.is_empty() {
        return None;
    }
    let mut l = Lines::new();
    l.open(1, "assignments", None);
    for (principal, comment, role) in &entries {
        let comment = (!comment.is_empty()).then_some(comment.as_str());
        l.raw(2, &format!("- principal: {}", scalar(principal)), comment);
        if let Some(role) = role {
            l.field(3, "role", &scalar(role), None);
        }
    }
    Some(Section::new("assignments", l))
}

fn certificates(
    input: &AppExport<'_>,
    unmanaged: &mut Vec<String>,
) -> (Option<Section>, Vec<CertificateFile>) {
    let live = input.live;
    let mut problems = Vec::new();
    let mut parsed = Vec::new();
    for k in &live.key_credentials {
        let what = match &k.display_name {
            Some(d) => format!("key credential {} ({})", yaml::quoted(d), k.key_id),
            None => format!("key credential {}", k.key_id),
        };
        if k.key_type != "AsymmetricX509Cert" || k.usage != "Verify" {
            problems.push(format!(
                "{what} of type {} for {}, not a sign-in certificate",
                k.key_type, k.usage
            ));
            continue;
        }
        let Some(der) = input.keys.get(&k.key_id) else {
            problems.push(format!("{what}: Graph returned no certificate for it"));
            continue;
        };
        let cert = match PublicCertificate::from_der(der) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{what}: {e}"));
                continue;
            }
        };
        if k.thumbprint != Some(cert.thumbprint()) {
            problems.push(format!(
                "{what}: its customKeyIdentifier is not the certificate's thumbprint {}, and entraform recognises `file:` certificates by thumbprint",
                cert.thumbprint()
            ));
            continue;
        }
        parsed.push((k, cert));
    }
    if !problems.is_empty() {
        for p in problems {
            unmanaged.push(format!("{p}; `certificates` is not exported"));
        }
        return (None, Vec::new());
    }
    let keyed: Vec<_> = parsed
        .iter()
        .map(|(k, c)| (*k, c.thumbprint().to_string()))
        .collect();
    let cert_names = names::certificate_names(&keyed);
    let mut items: Vec<(String, CertificateFile)> = parsed
        .into_iter()
        .zip(cert_names)
        .map(|((_, cert), name)| {
            let path = Path::new(CERTIFICATE_FOLDER).join(format!(
                "{}-{}.cer",
                input.name,
                cert.thumbprint()
            ));
            (
                name,
                CertificateFile {
                    path,
                    certificate: cert,
                },
            )
        })
        .collect();
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut l = Lines::new();
    if items.is_empty() {
        l.field(1, "certificates", "[]", None);
    } else {
        l.open(1, "certificates", None);
        for (name, file) in &items {
            let c = &file.certificate;
            l.raw(2, &format!("- name: {}", scalar(name)), None);
            let note = format!("{}, expires {}", c.subject(), c.not_after().date());
            l.field(
                3,
                "file",
                &scalar(&file.path.to_string_lossy().replace('\\', "/")),
                Some(&note),
            );
        }
    }
    let files = items.into_iter().map(|(_, f)| f).collect();
    (Some(Section::new("certificates", l)), files)
}

fn federated_credentials(live: &LiveApp, unmanaged: &mut Vec<String>) -> Option<Section> {
    let mut creds: Vec<_> = live.federated_credentials.iter().collect();
    creds.sort_by(|a, b| a.name.cmp(&b.name));
    let odd: Vec<String> = creds
        .iter()
        .filter(|c| c.audiences.len() != 1)
        .map(|c| {
            format!(
                "federated credential `{}` has {} audiences (a manifest takes exactly one); `federatedCredentials` is not exported",
                c.name,
                c.audiences.len()
            )
        })
        .collect();
    if !odd.is_empty() {
        unmanaged.extend(odd);
        return None;
    }
    let mut l = Lines::new();
    if creds.is_empty() {
        l.field(1, "federatedCredentials", "[]", None);
    } else {
        l.open(1, "federatedCredentials", None);
        for c in creds {
            l.raw(2, &format!("- name: {}", scalar(&c.name)), None);
            l.field(3, "issuer", &scalar(&c.issuer), None);
            l.field(3, "subject", &scalar(&c.subject), None);
            let default = (c.audiences[0] == DEFAULT_FEDERATED_AUDIENCE).then_some("the default");
            l.list(3, "audiences", &c.audiences, default);
            if let Some(d) = normalize::description(c.description.as_deref()) {
                l.field(3, "description", &scalar(d), None);
            }
        }
    }
    Some(Section::new("federatedCredentials", l))
}

fn sorted(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let set: BTreeSet<String> = items.into_iter().collect();
    set.into_iter().collect()
}

/// What the manifest validator takes for a GUID (and then refuses when it is not one): a name
/// like that must be written by id.
fn guid_like(s: &str) -> bool {
    let hex = s.chars().filter(char::is_ascii_hexdigit).count();
    (30..=40).contains(&s.len())
        && s.contains('-')
        && hex >= 28
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '{' | '}'))
}
