//! App roles (`appRoles`) and delegated permission scopes (`api.oauth2PermissionScopes`): the
//! permissions an application defines for others, which Graph calls entitlements. Both are
//! lists declared by `value` in a manifest; each entry gets an `id` at plan time, kept for good
//! once the tenant has it (a new id is a new role, and assignments to the old one would die).
//!
//! Values are Graph's JSON, normalised to one canonical form per entry (every property present,
//! in a fixed order, text `null` when empty, `allowedMemberTypes` sorted) and the list sorted by
//! `value`, so a manifest and the tenant compare equal when they mean the same.
//!
//! Graph's rule (appRole and permissionScope references, `isEnabled`): "To delete a role, this
//! must first be set to false. At that point, in a subsequent call, this role may be removed."
//! [`disable_first`] says which write must come first.

use serde_json::{Map, Value};

use super::ids::PermissionId;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entitlement {
    AppRole,
    Scope,
}

impl Entitlement {
    pub const ALL: [Entitlement; 2] = [Entitlement::AppRole, Entitlement::Scope];

    /// Graph's property path on the application (also the manifest key under `spec`).
    pub fn path(self) -> &'static str {
        match self {
            Entitlement::AppRole => "appRoles",
            Entitlement::Scope => "api.oauth2PermissionScopes",
        }
    }

    /// What one entry is called in messages.
    pub fn noun(self) -> &'static str {
        match self {
            Entitlement::AppRole => "app role",
            Entitlement::Scope => "permission scope",
        }
    }

    /// The free-text properties: changed in place.
    fn texts(self) -> &'static [&'static str] {
        match self {
            Entitlement::AppRole => &["displayName", "description"],
            Entitlement::Scope => &[
                "adminConsentDisplayName",
                "adminConsentDescription",
                "userConsentDisplayName",
                "userConsentDescription",
            ],
        }
    }

    /// The property that says who may hold it. Changing it on an enabled entry needs the entry
    /// disabled first, as removing one does (the sandbox's rule; the Terraform azuread provider,
    /// `applicationDisableAppRoles`, disables before any such change too).
    fn gate(self) -> &'static str {
        match self {
            Entitlement::AppRole => "allowedMemberTypes",
            Entitlement::Scope => "type",
        }
    }

    /// Every property a manifest entry may have, in the order entries show them.
    pub fn properties(self) -> Vec<&'static str> {
        let mut out = vec!["value"];
        out.extend(self.texts());
        out.push(self.gate());
        out.push("isEnabled");
        out
    }
}

/// Graph's rule for `value` (appRole and permissionScope references): "Must not exceed 120
/// characters in length. Allowed characters are : ! # $ % & ' ( ) * + , - . / : ; < = > ? @ [ ]
/// ^ + _ ` { | } ~, as well as characters in the ranges 0-9, A-Z and a-z. Any other character,
/// including the space character, are not allowed." A leading `.` is refused too (the Terraform
/// azuread provider, `validate/tokens.go` `RoleScopeClaimValue`).
pub fn check_value(value: &str) -> Result<(), String> {
    const MAX: usize = 120;
    const SYMBOLS: &str = ":!#$%&'()*+,-./;<=>?@[]^_`{|}~";
    if value.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if value.chars().count() > MAX {
        return Err(format!(
            "is {} characters long; Entra ID allows at most {MAX}",
            value.chars().count()
        ));
    }
    if value.starts_with('.') {
        return Err("must not start with `.`".to_owned());
    }
    if let Some(c) = value
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !SYMBOLS.contains(*c))
    {
        let shown = if c == ' ' {
            "a space".to_owned()
        } else {
            format!("`{c}`")
        };
        return Err(format!(
            "contains {shown}; Entra ID allows letters, digits and {SYMBOLS} only"
        ));
    }
    Ok(())
}

/// What is wrong with a manifest's list, each problem with where it is below the list
/// (`[1].value`).
pub fn check(kind: Entitlement, value: &Value) -> Vec<(String, String)> {
    let Some(items) = value.as_array() else {
        return vec![(String::new(), "must be a list".to_owned())];
    };
    let mut out = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |key: &str| {
            if key.is_empty() {
                format!("[{i}]")
            } else {
                format!("[{i}].{key}")
            }
        };
        let Some(m) = item.as_object() else {
            out.push((at(""), "must be a mapping".to_owned()));
            continue;
        };
        if let Some(k) = m.keys().find(|k| !kind.properties().contains(&k.as_str())) {
            let hint = if k == "id" {
                "; ids are chosen by the plan and kept by `value`"
            } else {
                ""
            };
            out.push((at(k), format!("unknown key `{k}`{hint}")));
        }
        match m.get("value").and_then(Value::as_str) {
            None => out.push((at(""), format!("every {} needs a `value`", kind.noun()))),
            Some(v) => {
                if let Err(e) = check_value(v) {
                    out.push((at("value"), format!("`{v}` {e}")));
                } else if seen.contains(&v) {
                    out.push((at("value"), format!("`{v}` is declared twice")));
                }
                seen.push(v);
            }
        }
        for text in kind.texts() {
            match m.get(*text) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) if s.chars().count() > 1024 => {
                    out.push((at(text), "is longer than 1024 characters".to_owned()))
                }
                Some(Value::String(_)) => {}
                Some(_) => out.push((at(text), "must be text".to_owned())),
            }
        }
        if !matches!(m.get("isEnabled"), None | Some(Value::Bool(_))) {
            out.push((at("isEnabled"), "must be `true` or `false`".to_owned()));
        }
        match kind {
            Entitlement::AppRole => {
                let types = m.get("allowedMemberTypes").and_then(Value::as_array);
                let ok = types.is_some_and(|t| {
                    !t.is_empty()
                        && t.iter()
                            .all(|t| matches!(t.as_str(), Some("User" | "Application")))
                });
                if !ok {
                    out.push((
                        at("allowedMemberTypes"),
                        "must list `User` (users and groups), `Application` (apps), or both"
                            .to_owned(),
                    ));
                }
            }
            Entitlement::Scope => {
                if !matches!(
                    m.get("type").and_then(Value::as_str),
                    None | Some("User" | "Admin")
                ) {
                    out.push((
                        at("type"),
                        "must be `User` (users may consent) or `Admin` (only admins may)"
                            .to_owned(),
                    ));
                }
            }
        }
    }
    out
}

/// The canonical list: entries sorted by `value`, each with every property (and its `id`
/// when it has one).
pub fn normalize(kind: Entitlement, value: &Value) -> Value {
    let mut entries: Vec<Value> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|m| entry(kind, m))
        .collect();
    entries.sort_by(|a, b| value_of(a).cmp(value_of(b)).then(id_of(a).cmp(&id_of(b))));
    Value::Array(entries)
}

fn entry(kind: Entitlement, m: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "value".into(),
        m.get("value")
            .filter(|v| v.is_string())
            .cloned()
            .unwrap_or(Value::Null),
    );
    if let Some(id) = m.get("id").and_then(Value::as_str) {
        out.insert("id".into(), Value::String(id.to_lowercase()));
    }
    for text in kind.texts() {
        let v = m
            .get(*text)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map_or(Value::Null, |s| Value::String(s.to_owned()));
        out.insert((*text).to_owned(), v);
    }
    let gate = match kind {
        Entitlement::AppRole => {
            let mut types: Vec<String> = m
                .get("allowedMemberTypes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
            types.sort();
            types.dedup();
            Value::Array(types.into_iter().map(Value::String).collect())
        }
        // Graph's default (and the Terraform azuread provider's) is `User`.
        Entitlement::Scope => Value::String(
            m.get("type")
                .and_then(Value::as_str)
                .unwrap_or("User")
                .to_owned(),
        ),
    };
    out.insert(kind.gate().to_owned(), gate);
    out.insert(
        "isEnabled".into(),
        Value::Bool(m.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)),
    );
    Value::Object(out)
}

fn value_of(entry: &Value) -> &str {
    entry
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn id_of(entry: &Value) -> Option<PermissionId> {
    entry
        .get("id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// How `export` writes a list: without ids (the plan keeps them by value) and without the
/// defaults (`isEnabled: true`, empty texts, a scope's `type: User`).
pub fn export(value: &Value) -> Value {
    let entries = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|m| {
            Value::Object(
                m.iter()
                    .filter(|(k, v)| {
                        !(k.as_str() == "id"
                            || v.is_null()
                            || (k.as_str() == "isEnabled" && **v == Value::Bool(true))
                            || (k.as_str() == "type" && v.as_str() == Some("User")))
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .collect();
    Value::Array(entries)
}

/// One entry of a planned list, as other parts of a plan refer to it (an assignment's role, a
/// client's delegated permission, a pre-authorized scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub value: String,
    pub id: PermissionId,
    pub is_enabled: bool,
}

/// The entries of a normalised list that have an id.
pub fn entries(list: &Value) -> Vec<Planned> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Planned {
                value: value_of(e).to_owned(),
                id: id_of(e)?,
                is_enabled: e.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
            })
        })
        .collect()
}

/// The manifest's list (normalised, without ids) with an id for every entry: the live id of
/// the entry with the same `value`, else `new_id(value, taken)`, which must avoid every id
/// `taken` says is in use (the app's live entries of either list, and those already chosen).
pub fn with_ids(
    desired: &Value,
    live: &[&Value],
    mut new_id: impl FnMut(&str, &dyn Fn(PermissionId) -> bool) -> PermissionId,
) -> Value {
    let live_entries: Vec<Planned> = live.iter().flat_map(|l| entries(l)).collect();
    let mut chosen: Vec<PermissionId> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    for e in desired.as_array().into_iter().flatten() {
        let Some(m) = e.as_object() else { continue };
        let value = value_of(e);
        let id = match live_entries.iter().find(|l| l.value == value) {
            Some(l) => l.id,
            None => new_id(value, &|id| {
                chosen.contains(&id) || live_entries.iter().any(|l| l.id == id)
            }),
        };
        chosen.push(id);
        let mut with = Map::new();
        for (k, v) in m {
            with.insert(k.clone(), v.clone());
            if k == "value" {
                with.insert("id".into(), Value::String(id.to_string()));
            }
        }
        out.push(Value::Object(with));
    }
    Value::Array(out)
}

/// The write that must come before writing `planned` over `live`, if any: the live list with
/// every enabled entry that goes away, or whose [`Entitlement::gate`] changes, disabled.
/// Graph refuses both on an enabled entry (400 `CannotDeleteOrUpdateEnabledEntitlement`).
/// Returns the list to write first and the values it disables.
pub fn disable_first(
    kind: Entitlement,
    live: &Value,
    planned: &Value,
) -> Option<(Value, Vec<String>)> {
    let planned = planned.as_array().cloned().unwrap_or_default();
    let mut disabled = Vec::new();
    let list: Vec<Value> = live
        .as_array()
        .into_iter()
        .flatten()
        .map(|old| {
            let enabled = old.get("isEnabled").and_then(Value::as_bool) == Some(true);
            let kept = planned.iter().find(|n| id_of(n) == id_of(old));
            let gated = kept.is_none_or(|n| {
                n.get(kind.gate()) != old.get(kind.gate()) || n.get("value") != old.get("value")
            });
            let mut old = old.clone();
            if enabled && gated {
                disabled.push(value_of(&old).to_owned());
                old["isEnabled"] = Value::Bool(false);
            }
            old
        })
        .collect();
    (!disabled.is_empty()).then(|| (Value::Array(list), disabled))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn values_follow_graphs_rules() {
        assert_eq!(check_value("Files.Read.All"), Ok(()));
        assert_eq!(check_value("access_as_user"), Ok(()));
        assert!(check_value("Read All").unwrap_err().contains("a space"));
        assert!(check_value(".hidden").is_err());
        assert!(check_value("naïve").unwrap_err().contains("`ï`"));
        assert!(check_value(&"a".repeat(121)).is_err());
        assert_eq!(check_value(&"a".repeat(120)), Ok(()));
        assert!(check_value("").is_err());
    }

    #[test]
    fn each_problem_points_below_the_list() {
        let roles = json(
            r#"[{"value": "A", "allowedMemberTypes": ["User"]},
                {"value": "A", "allowedMemberTypes": ["Robot"]},
                {"value": "B C", "allowedMemberTypes": ["User"], "id": "x"}]"#,
        );
        let found: Vec<String> = check(Entitlement::AppRole, &roles)
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        assert_eq!(
            found,
            ["[1].value", "[1].allowedMemberTypes", "[2].id", "[2].value"]
        );
        let scopes = json(r#"[{"value": "s", "type": "Everyone"}]"#);
        assert_eq!(check(Entitlement::Scope, &scopes)[0].0, "[0].type");
    }

    #[test]
    fn live_ids_are_kept_by_value_and_new_ones_avoid_taken_ids() {
        let live = json(r#"[{"value": "Old", "id": "00000000-0000-0000-0000-000000000001"}]"#);
        let desired = json(r#"[{"value": "New"}, {"value": "Old"}]"#);
        let one: PermissionId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
        let two: PermissionId = "00000000-0000-0000-0000-000000000002".parse().unwrap();
        let planned = with_ids(&desired, &[&live], |value, taken| {
            assert_eq!(value, "New");
            assert!(taken(one));
            two
        });
        let ids: Vec<(String, PermissionId)> = entries(&planned)
            .into_iter()
            .map(|e| (e.value, e.id))
            .collect();
        assert_eq!(ids, [("New".to_owned(), two), ("Old".to_owned(), one)]);
    }

    #[test]
    fn removing_or_regating_an_enabled_entry_disables_it_first() {
        let kind = Entitlement::AppRole;
        let live = normalize(
            kind,
            &json(
                r#"[{"value": "Gone", "id": "00000000-0000-0000-0000-000000000001", "allowedMemberTypes": ["User"]},
                    {"value": "Off", "id": "00000000-0000-0000-0000-000000000002", "allowedMemberTypes": ["User"], "isEnabled": false},
                    {"value": "Kept", "id": "00000000-0000-0000-0000-000000000003", "allowedMemberTypes": ["User"], "description": "old"},
                    {"value": "Wider", "id": "00000000-0000-0000-0000-000000000004", "allowedMemberTypes": ["User"]}]"#,
            ),
        );
        let planned = normalize(
            kind,
            &json(
                r#"[{"value": "Kept", "id": "00000000-0000-0000-0000-000000000003", "allowedMemberTypes": ["User"], "description": "new"},
                    {"value": "Wider", "id": "00000000-0000-0000-0000-000000000004", "allowedMemberTypes": ["User", "Application"]}]"#,
            ),
        );
        let (first, disabled) = disable_first(kind, &live, &planned).unwrap();
        assert_eq!(disabled, ["Gone", "Wider"]);
        let enabled: Vec<bool> = entries(&first).iter().map(|e| e.is_enabled).collect();
        assert_eq!(enabled, [false, true, false, false]);
        // A text change, or removing one already disabled, is one write.
        let live_off = normalize(
            kind,
            &json(
                r#"[{"value": "Off", "id": "00000000-0000-0000-0000-000000000002", "allowedMemberTypes": ["User"], "isEnabled": false}]"#,
            ),
        );
        assert_eq!(disable_first(kind, &live_off, &json("[]")), None);
    }

    #[test]
    fn export_leaves_out_ids_and_defaults() {
        let kind = Entitlement::Scope;
        let live = normalize(
            kind,
            &json(
                r#"[{"value": "access_as_user", "id": "00000000-0000-0000-0000-000000000001", "adminConsentDisplayName": "Access", "type": "User", "isEnabled": true}]"#,
            ),
        );
        assert_eq!(
            export(&live),
            json(r#"[{"value": "access_as_user", "adminConsentDisplayName": "Access"}]"#)
        );
    }
}
