//! A small, strict OData query engine: exactly the `$filter`, `$select`, `$expand`, `$top`,
//! `$count`, `$search` and `$orderby` forms that Graph documents per resource (see
//! `graph-query-support.md`), with Graph's limits and error messages. Anything else is refused
//! the way Graph refuses it, so the sandbox is never laxer than the real service.

use std::borrow::Cow;

use serde_json::Value;

use super::errors::GraphError;
use super::state::Object;

/// Graph's cap on `in (…)` values plus `or` operands in one filter without advanced queries.
pub(crate) const MAX_OR_CLAUSES: usize = 15;
/// Graph's cap on the length of one `eq` value without advanced queries.
pub(crate) const MAX_EQ_VALUE_CHARS: usize = 120;
/// Objects per parent in an `$expand`ed directory relationship; no nextLink inside.
pub(crate) const MAX_EXPANDED: usize = 20;
/// Parents per page when `$expand` is present (observed: even with `$top=999`).
pub(crate) const MAX_PAGE_WITH_EXPAND: usize = 100;
pub(crate) const DEFAULT_PAGE: usize = 100;
pub(crate) const MAX_TOP: usize = 999;

/// One operator form a property supports, and whether it needs advanced query parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Eq,
    Ne,
    Not,
    StartsWith,
    EndsWith,
    GeLe,
    EqNull,
    AnyEq,
    AnyStartsWith,
    /// `rel/$count eq 0` and friends.
    Count,
    /// `coll/any(x: x/sub eq 'v')` on a collection of objects; the sub-properties allowed.
    AnySub(&'static [&'static str]),
}

/// A filterable property: the forms usable by default and those that need advanced queries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prop {
    pub name: &'static str,
    pub plain: &'static [Form],
    pub advanced: &'static [Form],
}

/// What a resource collection supports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resource {
    /// OData type name used in messages, e.g. `Application`.
    pub type_name: &'static str,
    /// The properties `$filter` may use.
    pub props: &'static [Prop],
    /// Properties that `$select` may name.
    pub selectable: &'static [&'static str],
    /// Relationships that `$expand` may name.
    pub expandable: &'static [&'static str],
    /// Directory objects support advanced queries (`ConsistencyLevel: eventual` + `$count`).
    pub directory: bool,
    pub top: bool,
    pub search: bool,
    pub orderby: &'static [&'static str],
}

const fn p(name: &'static str, plain: &'static [Form], advanced: &'static [Form]) -> Prop {
    Prop {
        name,
        plain,
        advanced,
    }
}

use Form::*;

const FIC_SUBS: &[&str] = &["issuer", "name", "subject"];
const RRA_SUBS: &[&str] = &["resourceAppId"];

pub(crate) const APPLICATIONS: Resource = Resource {
    type_name: "Application",
    props: &[
        p("id", &[Eq], &[Ne, Not]),
        p("appId", &[Eq], &[]),
        p("uniqueName", &[Eq, StartsWith], &[]),
        p("displayName", &[Eq, StartsWith, GeLe], &[EqNull, Ne, Not]),
        p("tags", &[AnyEq, AnyStartsWith], &[Not]),
        p("identifierUris", &[AnyEq, AnyStartsWith], &[Not]),
        p("signInAudience", &[Eq], &[Ne, Not]),
        p("createdDateTime", &[GeLe], &[EqNull]),
        p("requiredResourceAccess", &[], &[AnySub(RRA_SUBS)]),
        p(
            "federatedIdentityCredentials",
            &[],
            &[AnySub(FIC_SUBS), Count],
        ),
        p("owners", &[], &[Count]),
    ],
    selectable: super::graph::apps::APP_PROPERTIES,
    expandable: &["federatedIdentityCredentials", "owners"],
    directory: true,
    top: true,
    search: true,
    orderby: &["displayName", "createdDateTime"],
};

pub(crate) const SERVICE_PRINCIPALS: Resource = Resource {
    type_name: "ServicePrincipal",
    props: &[
        p("id", &[Eq], &[Ne, Not]),
        p("appId", &[Eq], &[Ne, Not]),
        p("displayName", &[Eq, StartsWith, GeLe], &[EqNull, Ne, Not]),
        p("tags", &[AnyEq, AnyStartsWith], &[Not]),
        p("servicePrincipalNames", &[AnyEq, AnyStartsWith], &[Not]),
        p("accountEnabled", &[Eq], &[]),
        p("servicePrincipalType", &[Eq], &[]),
        p("appOwnerOrganizationId", &[], &[Eq]),
        p("appRoleAssignmentRequired", &[], &[Eq]),
        p("owners", &[], &[Count]),
    ],
    selectable: super::graph::sps::SP_PROPERTIES,
    expandable: &["appRoleAssignments", "appRoleAssignedTo", "owners"],
    directory: true,
    top: true,
    search: true,
    orderby: &["displayName"],
};

pub(crate) const APP_ROLE_ASSIGNMENTS: Resource = Resource {
    type_name: "AppRoleAssignment",
    props: &[
        p("id", &[Eq], &[]),
        p("resourceId", &[Eq], &[]),
        p("principalDisplayName", &[Eq, StartsWith], &[]),
        // Undocumented but observed working in community code.
        p("principalId", &[Eq], &[]),
        p("appRoleId", &[Eq], &[]),
    ],
    selectable: &[
        "id",
        "deletedDateTime",
        "appRoleId",
        "createdDateTime",
        "principalDisplayName",
        "principalId",
        "principalType",
        "resourceDisplayName",
        "resourceId",
    ],
    expandable: &[],
    directory: false,
    top: true,
    search: false,
    orderby: &[],
};

pub(crate) const ROLE_ASSIGNMENTS: Resource = Resource {
    type_name: "UnifiedRoleAssignment",
    props: &[
        p("principalId", &[Eq], &[]),
        p("roleDefinitionId", &[Eq], &[]),
        p("directoryScopeId", &[Eq], &[]),
        p("appScopeId", &[Eq], &[]),
    ],
    selectable: &[
        "id",
        "principalId",
        "roleDefinitionId",
        "directoryScopeId",
        "appScopeId",
        "resourceScope",
        "condition",
    ],
    expandable: &[],
    directory: false,
    top: false,
    search: false,
    orderby: &[],
};

pub(crate) const ROLE_DEFINITIONS: Resource = Resource {
    type_name: "UnifiedRoleDefinition",
    props: &[
        p("id", &[Eq], &[]),
        p("displayName", &[Eq], &[]),
        p("isBuiltIn", &[Eq], &[]),
    ],
    selectable: &[
        "id",
        "description",
        "displayName",
        "isBuiltIn",
        "isEnabled",
        "resourceScopes",
        "templateId",
        "version",
        "rolePermissions",
        "inheritsPermissionsFrom",
    ],
    expandable: &[],
    directory: false,
    top: false,
    search: false,
    orderby: &[],
};

pub(crate) const FEDERATED_CREDENTIALS: Resource = Resource {
    type_name: "FederatedIdentityCredential",
    props: &[p("name", &[Eq], &[]), p("subject", &[Eq], &[])],
    selectable: &[
        "id",
        "name",
        "issuer",
        "subject",
        "description",
        "audiences",
    ],
    expandable: &[],
    directory: false,
    top: false,
    search: false,
    orderby: &[],
};

pub(crate) const PERMISSION_GRANTS: Resource = Resource {
    type_name: "OAuth2PermissionGrant",
    props: &[
        p("clientId", &[Eq], &[]),
        p("consentType", &[Eq], &[]),
        p("principalId", &[Eq], &[]),
        p("resourceId", &[Eq], &[]),
    ],
    selectable: &[
        "id",
        "clientId",
        "consentType",
        "principalId",
        "resourceId",
        "scope",
    ],
    expandable: &[],
    directory: false,
    top: true,
    search: false,
    orderby: &[],
};

pub(crate) const USERS: Resource = Resource {
    type_name: "User",
    props: &[
        p("id", &[Eq], &[Ne, Not]),
        p(
            "userPrincipalName",
            &[Eq, StartsWith, GeLe],
            &[EndsWith, Ne, Not],
        ),
        p("displayName", &[Eq, StartsWith, GeLe], &[EqNull, Ne, Not]),
        p("mail", &[Eq, StartsWith], &[EndsWith, Ne, Not, EqNull]),
        p("accountEnabled", &[Eq], &[Ne, Not]),
    ],
    selectable: super::graph::users::USER_PROPERTIES,
    expandable: &[],
    directory: true,
    top: true,
    search: true,
    orderby: &["displayName", "userPrincipalName"],
};

/// `/groups` (group-list: `id` and `displayName` take `eq` and `in`, `displayName`
/// `startsWith`; `$search` and `$orderby` need advanced queries, which entraform does not use).
pub(crate) const GROUPS: Resource = Resource {
    type_name: "Group",
    props: &[
        p("id", &[Eq], &[Ne, Not]),
        p("displayName", &[Eq, StartsWith, GeLe], &[EqNull, Ne, Not]),
        p("mailNickname", &[Eq, StartsWith], &[Ne, Not]),
        p("securityEnabled", &[Eq], &[Ne, Not]),
        p("mailEnabled", &[Eq], &[Ne, Not]),
    ],
    selectable: super::graph::groups::GROUP_PROPERTIES,
    expandable: &[],
    directory: true,
    top: true,
    search: true,
    orderby: &["displayName"],
};

/// A directory-object owner list (`/applications/{id}/owners`).
pub(crate) const OWNERS: Resource = Resource {
    type_name: "DirectoryObject",
    props: &[],
    selectable: &[
        "id",
        "displayName",
        "appId",
        "userPrincipalName",
        "mail",
        "servicePrincipalType",
    ],
    expandable: &[],
    directory: true,
    top: true,
    search: false,
    orderby: &[],
};

// ---------------------------------------------------------------------------------------------
// $filter

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Null,
    Bool(bool),
    Num(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Filter {
    Cmp(String, Cmp, Lit),
    In(String, Vec<Lit>),
    StartsWith(String, String),
    EndsWith(String, String),
    /// `prop/any(var: inner)`; inside, the property `$it` is the element itself.
    Any(String, Box<Filter>),
    /// `prop/$count <op> n`
    Count(String, Cmp, i64),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Open,
    Close,
    Comma,
    Colon,
}

fn invalid_filter(detail: &str) -> GraphError {
    GraphError::bad_request(format!("Invalid filter clause: {detail}"))
}

fn tokenize(input: &str) -> Result<Vec<Tok>, GraphError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(invalid_filter("unterminated string literal.")),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            s.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "-.:".contains(chars[i]))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                match text.parse::<f64>() {
                    Ok(n) => out.push(Tok::Num(n)),
                    // Unquoted GUIDs and dates are literals too.
                    Err(_) => out.push(Tok::Str(text)),
                }
            }
            c if c.is_alphabetic() || c == '$' || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || "$_/.".contains(chars[i])) {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => return Err(invalid_filter(&format!("unexpected character '{other}'."))),
        }
    }
    Ok(out)
}

/// How deep a filter may nest: parentheses, `not`, lambdas and each `and`/`or` of a chain add a
/// level (a chain is a nested tree, which checking and evaluating walk recursively). Graph's
/// OData parser stops at 800 recursive calls (Microsoft.OData.Core `QueryParserSettings.
/// DefaultFilterLimit`, answered "The recursion limit has been exceeded."), several calls per
/// level; 100 levels is well inside that and far inside our stack.
const MAX_FILTER_DEPTH: usize = 100;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    /// The lambda variable currently in scope.
    var: Option<String>,
    /// Levels of nesting open now (see [`MAX_FILTER_DEPTH`]).
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), GraphError> {
        match self.next() {
            Some(got) if got == t => Ok(()),
            _ => Err(invalid_filter("syntax error.")),
        }
    }
    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(word))
    }
    /// Opens `levels` levels of nesting, refusing the filter past [`MAX_FILTER_DEPTH`]; the
    /// caller closes them with [`Parser::leave`].
    fn enter(&mut self, levels: usize) -> Result<(), GraphError> {
        self.depth += levels;
        if self.depth > MAX_FILTER_DEPTH {
            return Err(invalid_filter("The recursion limit has been exceeded."));
        }
        Ok(())
    }
    fn leave(&mut self, levels: usize) {
        self.depth -= levels;
    }

    fn or(&mut self) -> Result<Filter, GraphError> {
        let mut left = self.and()?;
        let mut chained = 0;
        while self.keyword("or") {
            self.pos += 1;
            self.enter(1)?;
            chained += 1;
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        self.leave(chained);
        Ok(left)
    }
    fn and(&mut self) -> Result<Filter, GraphError> {
        let mut left = self.unary()?;
        let mut chained = 0;
        while self.keyword("and") {
            self.pos += 1;
            self.enter(1)?;
            chained += 1;
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        self.leave(chained);
        Ok(left)
    }
    fn unary(&mut self) -> Result<Filter, GraphError> {
        if self.keyword("not") {
            self.pos += 1;
            self.enter(1)?;
            let inner = self.unary()?;
            self.leave(1);
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            self.enter(1)?;
            let inner = self.or()?;
            self.leave(1);
            self.expect(Tok::Close)?;
            return Ok(inner);
        }
        self.primary()
    }

    /// A property path, relative to the lambda variable when one is in scope.
    fn path(&self, raw: &str) -> String {
        if let Some(var) = &self.var {
            if raw == var {
                return "$it".into();
            }
            if let Some(rest) = raw.strip_prefix(&format!("{var}/")) {
                return rest.into();
            }
        }
        raw.into()
    }

    fn literal(&mut self) -> Result<Lit, GraphError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Ok(Lit::Num(n)),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("null") => Ok(Lit::Null),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("true") => Ok(Lit::Bool(true)),
            Some(Tok::Ident(s)) if s.eq_ignore_ascii_case("false") => Ok(Lit::Bool(false)),
            _ => Err(invalid_filter("expected a literal.")),
        }
    }

    fn primary(&mut self) -> Result<Filter, GraphError> {
        let Some(Tok::Ident(ident)) = self.next() else {
            return Err(invalid_filter("expected a property or function."));
        };
        let lower = ident.to_ascii_lowercase();
        if (lower == "startswith" || lower == "endswith") && self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let Some(Tok::Ident(prop)) = self.next() else {
                return Err(invalid_filter("expected a property."));
            };
            self.expect(Tok::Comma)?;
            let Some(Tok::Str(value)) = self.next() else {
                return Err(invalid_filter("expected a string literal."));
            };
            self.expect(Tok::Close)?;
            let prop = self.path(&prop);
            return Ok(if lower == "startswith" {
                Filter::StartsWith(prop, value)
            } else {
                Filter::EndsWith(prop, value)
            });
        }
        if let Some(coll) = ident
            .strip_suffix("/any")
            .or_else(|| ident.strip_suffix("/ANY"))
        {
            if self.var.is_some() {
                return Err(GraphError::unsupported_query(
                    "Nested lambda expressions are not supported.",
                ));
            }
            self.expect(Tok::Open)?;
            let Some(Tok::Ident(var)) = self.next() else {
                return Err(invalid_filter("expected a lambda variable."));
            };
            self.expect(Tok::Colon)?;
            self.var = Some(var);
            self.enter(1)?;
            let inner = self.or()?;
            self.leave(1);
            self.var = None;
            self.expect(Tok::Close)?;
            return Ok(Filter::Any(coll.to_string(), Box::new(inner)));
        }
        if ident.to_ascii_lowercase().ends_with("/all") {
            return Err(GraphError::unsupported_query(
                "The 'all' lambda operator is not supported.",
            ));
        }
        let prop = self.path(&ident);
        match self.next() {
            Some(Tok::Ident(op)) => {
                let op_l = op.to_ascii_lowercase();
                if op_l == "in" {
                    self.expect(Tok::Open)?;
                    let mut values = vec![self.literal()?];
                    while self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                        values.push(self.literal()?);
                    }
                    self.expect(Tok::Close)?;
                    return Ok(Filter::In(prop, values));
                }
                let cmp = match op_l.as_str() {
                    "eq" => Cmp::Eq,
                    "ne" => Cmp::Ne,
                    "ge" => Cmp::Ge,
                    "le" => Cmp::Le,
                    "gt" => Cmp::Gt,
                    "lt" => Cmp::Lt,
                    _ => {
                        return Err(GraphError::unsupported_query(format!(
                            "Unsupported query operator '{op}'."
                        )));
                    }
                };
                let lit = self.literal()?;
                if let Some(rel) = prop.strip_suffix("/$count") {
                    let Lit::Num(n) = lit else {
                        return Err(invalid_filter("$count compares with a number."));
                    };
                    return Ok(Filter::Count(rel.to_string(), cmp, n as i64));
                }
                Ok(Filter::Cmp(prop, cmp, lit))
            }
            _ => Err(invalid_filter("expected an operator.")),
        }
    }
}

pub(crate) fn parse_filter(text: &str) -> Result<Filter, GraphError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(invalid_filter("empty expression."));
    }
    let mut parser = Parser {
        toks,
        pos: 0,
        var: None,
        depth: 0,
    };
    let f = parser.or()?;
    if parser.pos != parser.toks.len() {
        return Err(invalid_filter("unexpected trailing tokens."));
    }
    Ok(f)
}

fn advanced_needed(op: &str) -> GraphError {
    GraphError::unsupported_query(format!(
        "Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
    ))
}

fn unsupported_property(prop: &str, res: &Resource) -> GraphError {
    GraphError::unsupported_query(format!(
        "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{}'.",
        res.type_name
    ))
}

/// Counts the clauses Graph's 15-expression cap applies to: `in` values and `or` operands.
fn or_clauses(f: &Filter) -> usize {
    match f {
        Filter::In(_, v) => v.len(),
        Filter::Or(a, b) => or_operands(a) + or_operands(b),
        Filter::And(a, b) => or_clauses(a) + or_clauses(b),
        Filter::Not(a) | Filter::Any(_, a) => or_clauses(a),
        _ => 0,
    }
}

fn or_operands(f: &Filter) -> usize {
    match f {
        Filter::Or(a, b) => or_operands(a) + or_operands(b),
        Filter::In(_, v) => v.len(),
        other => or_clauses(other).max(1),
    }
}

impl Resource {
    fn prop(&self, name: &str) -> Option<&Prop> {
        self.props
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Checks a parsed filter against what this resource documents; returns the filter with
    /// property names in their canonical spelling.
    pub(crate) fn check_filter(&self, f: &Filter, advanced: bool) -> Result<Filter, GraphError> {
        let clauses = or_clauses(f);
        if !advanced && clauses > MAX_OR_CLAUSES {
            return Err(GraphError::unsupported_query(format!(
                "Too many child clauses specified in search filter expression containing 'OR' operators: {clauses}. Max allowed: {MAX_OR_CLAUSES}."
            )));
        }
        self.check(f, advanced)
    }

    fn allow(
        &self,
        prop: &str,
        form: Form,
        advanced: bool,
        op: &str,
    ) -> Result<String, GraphError> {
        let Some(p) = self.prop(prop) else {
            return Err(unsupported_property(prop, self));
        };
        let matches = |forms: &[Form]| {
            forms.iter().any(|f| match (f, form) {
                (AnySub(_), AnySub(_)) => true,
                (a, b) => *a == b,
            })
        };
        if matches(p.plain) {
            return Ok(p.name.to_string());
        }
        if matches(p.advanced) {
            if advanced && self.directory {
                return Ok(p.name.to_string());
            }
            return Err(advanced_needed(op));
        }
        Err(unsupported_property(p.name, self))
    }

    fn check(&self, f: &Filter, advanced: bool) -> Result<Filter, GraphError> {
        Ok(match f {
            Filter::And(a, b) => Filter::And(
                Box::new(self.check(a, advanced)?),
                Box::new(self.check(b, advanced)?),
            ),
            Filter::Or(a, b) => Filter::Or(
                Box::new(self.check(a, advanced)?),
                Box::new(self.check(b, advanced)?),
            ),
            Filter::Not(a) => {
                if !(advanced && self.directory) {
                    return Err(advanced_needed("not"));
                }
                Filter::Not(Box::new(self.check(a, advanced)?))
            }
            Filter::Cmp(prop, cmp, lit) => {
                let (form, op) = match (cmp, lit) {
                    (Cmp::Eq, Lit::Null) => (EqNull, "eq"),
                    (Cmp::Eq, _) => (Eq, "eq"),
                    (Cmp::Ne, _) => (Ne, "ne"),
                    (Cmp::Ge | Cmp::Gt, _) => (GeLe, "ge"),
                    (Cmp::Le | Cmp::Lt, _) => (GeLe, "le"),
                };
                if let Lit::Str(s) = lit
                    && !advanced
                    && s.chars().count() > MAX_EQ_VALUE_CHARS
                {
                    return Err(GraphError::unsupported_query(format!(
                        "The value of property '{prop}' exceeds the maximum length of {MAX_EQ_VALUE_CHARS} characters allowed in a filter."
                    )));
                }
                let name = self.allow(prop, form, advanced, op)?;
                Filter::Cmp(name, *cmp, lit.clone())
            }
            Filter::In(prop, values) => {
                let name = self.allow(prop, Eq, advanced, "in")?;
                Filter::In(name, values.clone())
            }
            Filter::StartsWith(prop, v) => {
                let name = self.allow(prop, StartsWith, advanced, "startsWith")?;
                Filter::StartsWith(name, v.clone())
            }
            Filter::EndsWith(prop, v) => {
                let name = self.allow(prop, EndsWith, advanced, "endsWith")?;
                Filter::EndsWith(name, v.clone())
            }
            Filter::Count(prop, cmp, n) => {
                let name = self.allow(prop, Count, advanced, "$count")?;
                if !matches!(cmp, Cmp::Eq | Cmp::Ne) || !(0..=1).contains(n) {
                    return Err(unsupported_property(&name, self));
                }
                Filter::Count(name, *cmp, *n)
            }
            Filter::Any(coll, inner) => {
                let p = self
                    .prop(coll)
                    .ok_or_else(|| unsupported_property(coll, self))?;
                let subs: Option<&[&str]> = p
                    .plain
                    .iter()
                    .chain(p.advanced.iter())
                    .find_map(|f| if let AnySub(s) = f { Some(*s) } else { None });
                let form_of = |inner: &Filter| -> Result<(Form, String), GraphError> {
                    match inner {
                        Filter::Cmp(path, Cmp::Eq, Lit::Str(_)) => Ok((
                            if path == "$it" { AnyEq } else { AnySub(&[]) },
                            path.clone(),
                        )),
                        Filter::StartsWith(path, _) => Ok((
                            if path == "$it" {
                                AnyStartsWith
                            } else {
                                AnySub(&[])
                            },
                            path.clone(),
                        )),
                        _ => Err(unsupported_property(p.name, self)),
                    }
                };
                // One comparison inside, or an `or` of them on the same shape.
                let mut leaves = Vec::new();
                collect_or_leaves(inner, &mut leaves);
                let mut canon = Vec::new();
                for leaf in leaves {
                    let (form, path) = form_of(leaf)?;
                    self.allow(p.name, form, advanced, "any")?;
                    let leaf = match form {
                        AnySub(_) => {
                            let allowed = subs.unwrap_or(&[]);
                            let Some(sub) = allowed.iter().find(|s| s.eq_ignore_ascii_case(&path))
                            else {
                                return Err(unsupported_property(p.name, self));
                            };
                            rename(leaf, sub)
                        }
                        _ => leaf.clone(),
                    };
                    canon.push(leaf);
                }
                let inner = canon
                    .into_iter()
                    .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
                    .expect("at least one leaf");
                Filter::Any(p.name.to_string(), Box::new(inner))
            }
        })
    }
}

pub(crate) fn collect_or_leaves<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    match f {
        Filter::Or(a, b) => {
            collect_or_leaves(a, out);
            collect_or_leaves(b, out);
        }
        other => out.push(other),
    }
}

fn rename(f: &Filter, to: &str) -> Filter {
    match f {
        Filter::Cmp(_, c, l) => Filter::Cmp(to.into(), *c, l.clone()),
        Filter::StartsWith(_, v) => Filter::StartsWith(to.into(), v.clone()),
        other => other.clone(),
    }
}

/// Relationship counts needed by `rel/$count` filters, supplied by the caller per object.
pub(crate) type CountOf<'a> = dyn Fn(&Object, &str) -> usize + 'a;

fn str_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn lit_matches(v: Option<&Value>, lit: &Lit) -> bool {
    match (v, lit) {
        (None | Some(Value::Null), Lit::Null) => true,
        (Some(Value::String(s)), Lit::Str(l)) => str_eq(s, l),
        (Some(Value::Bool(b)), Lit::Bool(l)) => b == l,
        (Some(Value::Number(n)), Lit::Num(l)) => n.as_f64() == Some(*l),
        _ => false,
    }
}

fn order(v: Option<&Value>, lit: &Lit) -> Option<std::cmp::Ordering> {
    match (v, lit) {
        (Some(Value::String(s)), Lit::Str(l)) => Some(s.to_lowercase().cmp(&l.to_lowercase())),
        (Some(Value::Number(n)), Lit::Num(l)) => n.as_f64()?.partial_cmp(l),
        _ => None,
    }
}

fn starts(v: Option<&Value>, prefix: &str) -> bool {
    matches!(v, Some(Value::String(s)) if s.to_lowercase().starts_with(&prefix.to_lowercase()))
}

fn ends(v: Option<&Value>, suffix: &str) -> bool {
    matches!(v, Some(Value::String(s)) if s.to_lowercase().ends_with(&suffix.to_lowercase()))
}

/// What a filter expression is evaluated against: the object itself, or one item of a
/// collection inside an `any` lambda. Borrowed either way: filtering a list clones nothing.
#[derive(Clone, Copy)]
enum Scope<'a> {
    Top(&'a Object),
    Item(&'a Value),
}

fn lookup<'a>(scope: Scope<'a>, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('/');
    let mut cur = match scope {
        Scope::Item(item) if path == "$it" => return Some(item),
        Scope::Item(item) => item.get(segments.next()?)?,
        Scope::Top(object) => object.get(segments.next()?)?,
    };
    for seg in segments {
        cur = cur.get(seg)?;
    }
    Some(cur)
}

/// The properties of `source` that `$filter` may reach on `resource`, copied; everything else
/// (certificate bytes, app roles) is left out, so building a view per entry stays cheap.
pub(crate) fn filter_view(resource: &Resource, source: &Object) -> Object {
    resource
        .props
        .iter()
        .filter_map(|p| source.get(p.name).map(|v| (p.name.to_owned(), v.clone())))
        .collect()
}

pub(crate) fn eval(f: &Filter, obj: &Object, count: &CountOf<'_>) -> bool {
    eval_value(f, Scope::Top(obj), obj, count)
}

fn eval_value(f: &Filter, v: Scope<'_>, top: &Object, count: &CountOf<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval_value(a, v, top, count) && eval_value(b, v, top, count),
        Filter::Or(a, b) => eval_value(a, v, top, count) || eval_value(b, v, top, count),
        Filter::Not(a) => !eval_value(a, v, top, count),
        Filter::Cmp(p, c, lit) => {
            let got = lookup(v, p);
            match c {
                Cmp::Eq => lit_matches(got, lit),
                Cmp::Ne => !lit_matches(got, lit),
                Cmp::Ge => order(got, lit).is_some_and(|o| o.is_ge()),
                Cmp::Le => order(got, lit).is_some_and(|o| o.is_le()),
                Cmp::Gt => order(got, lit).is_some_and(|o| o.is_gt()),
                Cmp::Lt => order(got, lit).is_some_and(|o| o.is_lt()),
            }
        }
        Filter::In(p, values) => {
            let got = lookup(v, p);
            values.iter().any(|l| lit_matches(got, l))
        }
        Filter::StartsWith(p, s) => starts(lookup(v, p), s),
        Filter::EndsWith(p, s) => ends(lookup(v, p), s),
        Filter::Any(coll, inner) => match lookup(v, coll) {
            Some(Value::Array(items)) => items
                .iter()
                .any(|it| eval_value(inner, Scope::Item(it), top, count)),
            _ => false,
        },
        Filter::Count(rel, c, n) => {
            let have = count(top, rel) as i64;
            match c {
                Cmp::Eq => have == *n,
                _ => have != *n,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The whole query string

/// A request's OData options, validated for one resource.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub filter: Option<Filter>,
    pub select: Option<Vec<String>>,
    pub expand: Option<String>,
    pub top: Option<usize>,
    pub count: bool,
    pub advanced: bool,
    pub search: Option<String>,
    pub orderby: Option<(String, bool)>,
    pub skiptoken: Option<String>,
}

/// The raw query parameters of a request, percent-decoded, in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(pub Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &str) -> Params {
        Params(
            raw.split('&')
                .filter(|s| !s.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode_component(k, true), decode_component(v, true))
                })
                .collect(),
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Re-encodes every parameter but `$skiptoken`, for a nextLink.
    pub(crate) fn encode_without_skiptoken(&self) -> String {
        self.0
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-decoding; in query strings `+` is a space.
pub(crate) fn decode_component(s: &str, plus_is_space: bool) -> String {
    // `+` first, so an encoded plus (`%2B`) stays a plus.
    let s = if plus_is_space {
        Cow::Owned(s.replace('+', " "))
    } else {
        Cow::Borrowed(s)
    };
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

pub(crate) fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// What [`encode_component`] escapes: all but unreserved characters and those OData's query
/// syntax reads literally (`$`, `,`, `'`, `(`, `)`, `/`, `:`).
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'$')
    .remove(b',')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'/')
    .remove(b':');

const KNOWN_OPTIONS: &[&str] = &[
    "$filter",
    "$select",
    "$expand",
    "$top",
    "$count",
    "$search",
    "$orderby",
    "$skiptoken",
];

impl Query {
    /// Validates the parameters of a collection GET against what `res` documents.
    pub(crate) fn parse(
        params: &Params,
        res: &Resource,
        consistency_eventual: bool,
    ) -> Result<Query, GraphError> {
        let mut q = Query::default();
        for (k, _) in &params.0 {
            let known = KNOWN_OPTIONS.iter().any(|o| o.eq_ignore_ascii_case(k));
            if k.starts_with('$') && !known {
                return Err(GraphError::bad_request(format!(
                    "Query option '{k}' is not allowed. Make sure that it is supported by the target resource."
                )));
            }
        }
        q.count = match params.get("$count") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(GraphError::bad_request(format!(
                    "Invalid value '{v}' for query option '$count'."
                )));
            }
        };
        // Without the header `$count=true` is silently ignored, as Graph does.
        q.advanced = res.directory && consistency_eventual && q.count;
        if !(res.directory && consistency_eventual) {
            q.count = false;
        }
        if let Some(s) = params.get("$search") {
            if !res.search {
                return Err(GraphError::bad_request(
                    "Query option '$search' is not allowed. Make sure that it is supported by the target resource.",
                ));
            }
            if !consistency_eventual {
                return Err(GraphError::unsupported_query(
                    "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
                ));
            }
            q.search = Some(parse_search(s)?);
        }
        if let Some(f) = params.get("$filter") {
            let parsed = parse_filter(f)?;
            q.filter = Some(res.check_filter(&parsed, q.advanced)?);
        }
        if let Some(sel) = params.get("$select") {
            q.select = Some(parse_select(sel, res)?);
        }
        if let Some(exp) = params.get("$expand") {
            let exp = exp.trim();
            if exp.contains(',') {
                return Err(GraphError::bad_request(
                    "Only one relationship can be expanded in a single request.",
                ));
            }
            if exp.contains('(') {
                return Err(GraphError::bad_request(
                    "Nested query options inside $expand are not supported.",
                ));
            }
            let Some(rel) = res.expandable.iter().find(|r| r.eq_ignore_ascii_case(exp)) else {
                return Err(GraphError::bad_request(format!(
                    "Could not find a property named '{exp}' on type 'microsoft.graph.{}'.",
                    lower_first(res.type_name)
                )));
            };
            if q.advanced {
                return Err(GraphError::unsupported_query(
                    "$expand is not supported with advanced query parameters.",
                ));
            }
            q.expand = Some(rel.to_string());
        }
        if let Some(top) = params.get("$top") {
            if !res.top {
                return Err(GraphError::bad_request(
                    "Query option '$top' is not allowed. Make sure that it is supported by the target resource.",
                ));
            }
            let n: usize = top.parse().map_err(|_| {
                GraphError::bad_request(format!(
                    "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
                ))
            })?;
            if !(1..=MAX_TOP).contains(&n) {
                return Err(GraphError::bad_request(format!(
                    "Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
                )));
            }
            q.top = Some(n);
        }
        if let Some(ob) = params.get("$orderby") {
            let mut parts = ob.split_whitespace();
            let prop = parts.next().unwrap_or_default();
            let desc = match parts.next() {
                None => false,
                Some(d) if d.eq_ignore_ascii_case("asc") => false,
                Some(d) if d.eq_ignore_ascii_case("desc") => true,
                Some(_) => return Err(GraphError::bad_request("Invalid $orderby clause.")),
            };
            let Some(name) = res.orderby.iter().find(|p| p.eq_ignore_ascii_case(prop)) else {
                return Err(GraphError::unsupported_query(
                    "Sorting not supported for current query.",
                ));
            };
            // Sorting directory objects other than users needs advanced queries; so does
            // combining it with $filter anywhere.
            let needs_advanced = res.type_name != "User" || q.filter.is_some();
            if needs_advanced && !q.advanced {
                return Err(GraphError::unsupported_query(
                    "Sorting not supported for current query.",
                ));
            }
            q.orderby = Some((name.to_string(), desc));
        }
        q.skiptoken = params.get("$skiptoken").map(str::to_string);
        Ok(q)
    }

    /// The page size this request gets.
    pub(crate) fn page_size(&self) -> usize {
        let top = self.top.unwrap_or(DEFAULT_PAGE);
        if self.expand.is_some() {
            top.min(MAX_PAGE_WITH_EXPAND)
        } else {
            top
        }
    }

    /// The `(a,b)` part of `@odata.context` for `$select`/`$expand`.
    pub(crate) fn context_suffix(&self) -> String {
        match (&self.select, &self.expand) {
            (Some(s), None) => format!("({})", s.join(",")),
            (None, Some(e)) => format!("({e}())"),
            (Some(s), Some(e)) => format!("({},{e}())", s.join(",")),
            (None, None) => String::new(),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Validates a `$select` list against a resource's properties, keeping canonical spelling.
pub(crate) fn parse_select(sel: &str, res: &Resource) -> Result<Vec<String>, GraphError> {
    let mut out = Vec::new();
    for raw in sel.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some(name) = res.selectable.iter().find(|p| p.eq_ignore_ascii_case(raw)) else {
            return Err(GraphError::bad_request(format!(
                "Could not find a property named '{raw}' on type 'microsoft.graph.{}'.",
                lower_first(res.type_name)
            )));
        };
        if !out.iter().any(|o: &String| o == name) {
            out.push(name.to_string());
        }
    }
    if out.is_empty() {
        return Err(GraphError::bad_request("Invalid $select clause."));
    }
    Ok(out)
}

/// `$search="displayName:foo"` (quotes required); returns the term for displayName.
fn parse_search(s: &str) -> Result<String, GraphError> {
    let inner = s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| {
            GraphError::bad_request("Syntax error: the $search value must be quoted.")
        })?;
    let (prop, term) = inner.split_once(':').ok_or_else(|| {
        GraphError::bad_request("Syntax error: $search expects \"property:term\".")
    })?;
    if !prop.eq_ignore_ascii_case("displayName") {
        return Err(GraphError::unsupported_query(format!(
            "Unsupported property '{prop}' in $search."
        )));
    }
    Ok(term.to_lowercase())
}

/// `$search` tokenises displayName and matches tokens by prefix.
pub(crate) fn search_matches(obj: &Object, term: &str) -> bool {
    let Some(Value::String(name)) = obj.get("displayName") else {
        return false;
    };
    let name = name.to_lowercase();
    name.starts_with(term)
        || name
            .split(|c: char| !c.is_alphanumeric())
            .any(|tok| tok.starts_with(term))
}

/// Keeps only the selected properties (in the object's own order).
pub(crate) fn project(obj: &Object, select: Option<&[String]>) -> Object {
    match select {
        None => obj.clone(),
        Some(sel) => obj
            .iter()
            .filter(|(k, _)| sel.iter().any(|s| s == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Params {
        Params::parse(s)
    }

    #[test]
    fn deep_nesting_is_a_400_not_a_stack_overflow() {
        let too_deep = |f: String| {
            let e = parse_filter(&f).unwrap_err();
            assert_eq!((e.status, e.code.as_str()), (400, "Request_BadRequest"));
            assert!(e.message.contains("recursion limit"), "{}", e.message);
        };
        too_deep("(".repeat(200_000));
        too_deep(format!(
            "{}appId eq 'a'{}",
            "(".repeat(101),
            ")".repeat(101)
        ));
        too_deep(format!("{}appId eq 'a'", "not ".repeat(50_000)));
        too_deep(vec!["appId eq 'a'"; 50_000].join(" and "));
        too_deep(vec!["appId eq 'a'"; 50_000].join(" or "));
        let fine = format!("{}appId eq 'a'{}", "(".repeat(90), ")".repeat(90));
        assert!(parse_filter(&fine).is_ok());
        assert!(parse_filter(&vec!["appId eq 'a'"; 90].join(" and ")).is_ok());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Whatever a client sends as `$filter`, the parser answers (a filter or a 400).
        #[test]
        fn filter_parsing_never_panics(
            words in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("(".to_string()),
                    proptest::strategy::Just(")".to_string()),
                    proptest::strategy::Just("not".to_string()),
                    proptest::strategy::Just("and".to_string()),
                    proptest::strategy::Just("or".to_string()),
                    proptest::strategy::Just("eq".to_string()),
                    proptest::strategy::Just("in".to_string()),
                    proptest::strategy::Just(",".to_string()),
                    proptest::strategy::Just("'x'".to_string()),
                    proptest::strategy::Just("appId".to_string()),
                    proptest::strategy::Just("tags/any(t:t".to_string()),
                    proptest::strategy::Just("startswith(".to_string()),
                    "[ -~]{0,6}",
                ],
                0..300,
            ),
            repeat in 1usize..100,
        ) {
            let text = words.join(" ");
            let _ = parse_filter(&text);
            let _ = parse_filter(&text.repeat(repeat));
            // The whole query path a list request takes: parse, check against the resource.
            let params = Params::parse(&format!("$filter={}&$count=true", encode_component(&text)));
            let _ = Query::parse(&params, &APPLICATIONS, true);
        }
    }

    #[test]
    fn documented_application_filters_parse_without_advanced_queries() {
        for f in [
            "appId eq '00000003-0000-0000-c000-000000000000'",
            "displayName eq 'x'",
            "startswith(displayName,'ab')",
            "uniqueName eq 'u'",
            "appId in ('a','b')",
            "tags/any(t:t eq 'managed')",
            "startsWith(uniqueName,'entraform-')",
        ] {
            let parsed = parse_filter(f).unwrap();
            APPLICATIONS
                .check_filter(&parsed, false)
                .unwrap_or_else(|e| panic!("{f}: {}", e.message));
        }
    }

    #[test]
    fn sixteen_in_values_are_refused_fifteen_are_not() {
        let list = |n: usize| {
            (0..n)
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let ok = parse_filter(&format!("appId in ({})", list(15))).unwrap();
        assert!(APPLICATIONS.check_filter(&ok, false).is_ok());
        let bad = parse_filter(&format!("appId in ({})", list(16))).unwrap();
        let err = APPLICATIONS.check_filter(&bad, false).unwrap_err();
        assert_eq!(err.code, "Request_UnsupportedQuery");
        assert!(err.message.contains("Max allowed: 15"), "{}", err.message);
    }

    #[test]
    fn or_chains_count_against_the_cap() {
        let f = (0..16)
            .map(|i| format!("appId eq '{i}'"))
            .collect::<Vec<_>>()
            .join(" or ");
        let bad = parse_filter(&f).unwrap();
        assert!(APPLICATIONS.check_filter(&bad, false).is_err());
    }

    #[test]
    fn ne_and_endswith_need_advanced_queries() {
        let ne = parse_filter("displayName ne 'x'").unwrap();
        let err = APPLICATIONS.check_filter(&ne, false).unwrap_err();
        assert!(
            err.message.starts_with("Operator 'ne' is not supported"),
            "{}",
            err.message
        );
        assert!(APPLICATIONS.check_filter(&ne, true).is_ok());
        let ew = parse_filter("endswith(userPrincipalName,'@x.com')").unwrap();
        assert!(USERS.check_filter(&ew, false).is_err());
        assert!(USERS.check_filter(&ew, true).is_ok());
    }

    #[test]
    fn undocumented_properties_are_refused_like_graph() {
        let f = parse_filter("notes eq 'x'").unwrap();
        let err = APPLICATIONS.check_filter(&f, false).unwrap_err();
        assert_eq!(
            err.message,
            "Unsupported or invalid query filter clause specified for property 'notes' of resource 'Application'."
        );
    }

    #[test]
    fn top_outside_1_to_999_is_refused() {
        assert!(Query::parse(&params("$top=999"), &APPLICATIONS, false).is_ok());
        assert!(Query::parse(&params("$top=1000"), &APPLICATIONS, false).is_err());
        assert!(Query::parse(&params("$top=0"), &APPLICATIONS, false).is_err());
    }

    #[test]
    fn expand_caps_the_page_at_100_parents() {
        let q = Query::parse(
            &params("$top=999&$expand=federatedIdentityCredentials"),
            &APPLICATIONS,
            false,
        )
        .unwrap();
        assert_eq!(q.page_size(), 100);
    }

    #[test]
    fn lambdas_on_object_collections_need_advanced_queries() {
        let f = parse_filter("federatedIdentityCredentials/any(f:f/subject eq 'repo:x')").unwrap();
        assert!(APPLICATIONS.check_filter(&f, false).is_err());
        let checked = APPLICATIONS.check_filter(&f, true).unwrap();
        let mut obj = Object::new();
        obj.insert(
            "federatedIdentityCredentials".into(),
            serde_json::json!([{"subject": "repo:x"}]),
        );
        assert!(eval(&checked, &obj, &|_, _| 0));
    }

    #[test]
    fn evaluation_is_case_insensitive_like_the_directory() {
        let f = parse_filter("displayName eq 'ABC' and tags/any(t:startswith(t,'team'))").unwrap();
        let f = APPLICATIONS.check_filter(&f, false).unwrap();
        let obj: Object =
            serde_json::from_str(r#"{"displayName":"abc","tags":["Team-x"]}"#).unwrap();
        assert!(eval(&f, &obj, &|_, _| 0));
    }

    #[test]
    fn percent_decoding_handles_quotes_and_plus() {
        assert_eq!(decode_component("a%27b+c", true), "a'b c");
        assert_eq!(decode_component("100%", true), "100%");
        assert_eq!(decode_component("a%2Bb+c", true), "a+b c");
        assert_eq!(decode_component("a+b%zz", false), "a+b%zz");
        let text = "displayName eq 'Ünïcode & co' or appId in ('a','b')";
        assert_eq!(
            encode_component(text),
            "displayName%20eq%20'%C3%9Cn%C3%AFcode%20%26%20co'%20or%20appId%20in%20('a','b')"
        );
        assert_eq!(decode_component(&encode_component(text), true), text);
    }
}
