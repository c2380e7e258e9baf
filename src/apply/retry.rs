//! What a failed write means for apply, as a table (uv's retry table, one level up from the
//! Graph client's): the client has already retried what is transient at the HTTP level; what
//! is left is Graph's eventual consistency, lost answers to creates, objects that already exist,
//! and missing consent.

use crate::graph::GraphError;

/// The kind of write, as far as its failures are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// `PATCH …(uniqueName='…')` / `(appId='…')` with `Prefer: create-if-missing`.
    Upsert,
    /// A `POST` that creates a relationship Graph keeps unique (an assignment, a grant, an
    /// owner, a federated credential): a repeat answers "already exists".
    Create,
    /// A `PATCH` of an existing object.
    Update,
    /// A `DELETE`; gone already is done.
    Delete,
    /// A read that follows a write (the object's id after a 204 upsert, its key set).
    Read,
}

/// Whether what a write depends on may not be visible yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Replication {
    /// It depends on an object this run created or restored: "not found" means "not
    /// replicated yet".
    Pending,
    /// Everything it depends on existed before the run: "not found" is final.
    Settled,
}

/// Whether a write grants consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consent {
    /// An app role assignment or a delegated grant: a 403 means the caller may not consent,
    /// and an administrator must.
    Grants,
    /// Anything else: a 403 is a failure.
    NotNeeded,
}

/// What the executor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing left to do (a delete of something already gone).
    Done,
    /// The object this write depends on is not visible yet: wait and send it again.
    WaitForReplication,
    /// The answer was lost or the service failed after perhaps acting: send the create again;
    /// a repeat that finds the object answers "already exists", which is then confirmed.
    Repeat,
    /// The object (or the unique value) exists: confirm by reading what it is. For an upsert:
    /// the key is taken by an object this replica does not show yet, or by a deleted one.
    AlreadyExists,
    /// Insufficient privileges to grant consent: record it, finish the rest, print the consent
    /// URL.
    ConsentRequired,
    Fail,
}

/// Classifies `err` for a write of `kind`.
pub fn classify(
    kind: WriteKind,
    err: &GraphError,
    replication: Replication,
    consent: Consent,
) -> Disposition {
    let fresh = replication == Replication::Pending;
    let grants_consent = consent == Consent::Grants;
    let status = err.status();
    let code = err.code().unwrap_or_default();
    let text = error_text(err);
    if status.is_none() {
        // No answer at all (the client gave up on transport errors): a create may have
        // happened; everything else was already retried as far as it is safe.
        return match (kind, err) {
            (WriteKind::Create, GraphError::Transport { .. }) => Disposition::Repeat,
            _ => Disposition::Fail,
        };
    }
    let status = status.unwrap_or_default();
    // Graph answers a taken unique value with 400 `Request_BadRequest` and an `ObjectConflict`
    // detail (uniqueName, identifierUris), sometimes with 409; relationships say "already
    // exist(s)" or "conflicting object".
    let conflict = code == "Request_MultipleObjectsWithSameKeyValue"
        || text.contains("objectconflict")
        || text.contains("already exist")
        || text.contains("conflicting object");
    match status {
        404 if kind == WriteKind::Delete => Disposition::Done,
        404 if fresh => Disposition::WaitForReplication,
        400 if text.contains("nobackingapplicationobject")
            || text.contains("does not reference a valid application object") =>
        {
            Disposition::WaitForReplication
        }
        400 if fresh
            && (text.contains("not a valid reference update")
                || text.contains(
                    "does not exist or one of its queried reference-property objects are not present",
                )) =>
        {
            Disposition::WaitForReplication
        }
        // What an `Application.ReadWrite.OwnedBy` caller gets while its new application has not
        // replicated (terraform-provider-azuread retries it; its issue #611).
        403 if fresh
            && text.contains("the backing application of the service principal being created") =>
        {
            Disposition::WaitForReplication
        }
        // The write that removes an app role or scope follows the one that disabled it; a
        // replica that has not seen the disabling yet refuses it (the Terraform azuread
        // provider retries exactly this: `applicationUpdateRetryFunc`).
        400 if kind == WriteKind::Update
            && text.contains("cannotdeleteorupdateenabledentitlement") =>
        {
            Disposition::WaitForReplication
        }
        400 | 409 if conflict && matches!(kind, WriteKind::Upsert | WriteKind::Create) => {
            Disposition::AlreadyExists
        }
        403 if grants_consent && code == "Authorization_RequestDenied" => {
            Disposition::ConsentRequired
        }
        500 | 502 | 503 | 504 | 507 if kind == WriteKind::Create => Disposition::Repeat,
        _ => Disposition::Fail,
    }
}

/// The error's code, message and detail codes and messages, lower-cased, for matching.
fn error_text(err: &GraphError) -> String {
    let http = match err {
        GraphError::Http(e) => Some(e.as_ref()),
        GraphError::Shared(inner) => match inner.as_ref() {
            GraphError::Http(e) => Some(e.as_ref()),
            _ => None,
        },
        _ => None,
    };
    let Some(e) = http else {
        return String::new();
    };
    let mut out = String::new();
    for part in [e.code.as_deref(), e.message.as_deref()]
        .into_iter()
        .flatten()
    {
        out.push_str(part);
        out.push('\n');
    }
    for d in &e.details {
        for part in [d.code.as_deref(), d.message.as_deref()]
            .into_iter()
            .flatten()
        {
            out.push_str(part);
            out.push('\n');
        }
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ErrorDetail, HttpError};

    fn http(status: u16, code: &str, message: &str, detail: Option<&str>) -> GraphError {
        GraphError::Http(Box::new(HttpError {
            method: "POST".into(),
            path: "/x".into(),
            status,
            code: Some(code.into()),
            message: Some(message.into()),
            details: detail
                .map(|d| {
                    vec![ErrorDetail {
                        code: Some(d.into()),
                        message: None,
                        target: None,
                    }]
                })
                .unwrap_or_default(),
            request_id: None,
            client_request_id: None,
            date: None,
            attempts: 1,
            in_batch: false,
        }))
    }

    #[test]
    fn removing_a_role_just_disabled_waits_for_the_disabling_to_replicate() {
        let err = http(
            400,
            "CannotDeleteOrUpdateEnabledEntitlement",
            "Permission (scope or role) cannot be deleted or updated unless disabled first",
            None,
        );
        for replication in [Replication::Pending, Replication::Settled] {
            assert_eq!(
                classify(WriteKind::Update, &err, replication, Consent::NotNeeded),
                Disposition::WaitForReplication
            );
        }
        assert_eq!(
            classify(
                WriteKind::Create,
                &err,
                Replication::Settled,
                Consent::NotNeeded
            ),
            Disposition::Fail
        );
    }

    /// Graph's answers from the contract, each against every kind of write, fresh or not.
    #[test]
    fn the_table_of_what_each_answer_means() {
        let answers = [
            (
                "404 not found",
                http(
                    404,
                    "Request_ResourceNotFound",
                    "Resource 'x' does not exist.",
                    None,
                ),
            ),
            (
                "400 no backing app",
                http(
                    400,
                    "Request_BadRequest",
                    "The appId 'x' of the service principal does not reference a valid application object.",
                    Some("NoBackingApplicationObject"),
                ),
            ),
            (
                "400 not a valid reference",
                http(
                    400,
                    "Request_BadRequest",
                    "Not a valid reference update.",
                    None,
                ),
            ),
            (
                "409 same key",
                http(
                    409,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "Another object with the same value for property uniqueName already exists.",
                    None,
                ),
            ),
            (
                "400 uniqueName taken",
                http(
                    400,
                    "Request_BadRequest",
                    "Another object with the same value for property uniqueName already exists.",
                    Some("ObjectConflict"),
                ),
            ),
            (
                "400 reference not present",
                http(
                    400,
                    "Request_BadRequest",
                    "Resource 'x' does not exist or one of its queried reference-property objects are not present.",
                    None,
                ),
            ),
            (
                "403 backing app not local",
                http(
                    403,
                    "Authorization_RequestDenied",
                    "When using this permission, the backing application of the service principal being created must in the local tenant",
                    None,
                ),
            ),
            (
                "400 assignment exists",
                http(
                    400,
                    "Request_BadRequest",
                    "Permission being assigned already exists on the object.",
                    None,
                ),
            ),
            (
                "400 conflicting object",
                http(
                    400,
                    "Request_BadRequest",
                    "A conflicting object with one or more of the specified property values is present in the directory.",
                    None,
                ),
            ),
            (
                "400 owner exists",
                http(
                    400,
                    "Request_BadRequest",
                    "One or more added object references already exist for the following modified properties: 'owners'.",
                    None,
                ),
            ),
            (
                "403 denied",
                http(
                    403,
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                    None,
                ),
            ),
            (
                "500",
                http(
                    500,
                    "generalException",
                    "General exception while processing.",
                    None,
                ),
            ),
            (
                "400 other",
                http(
                    400,
                    "Request_BadRequest",
                    "Invalid value specified for property 'scope'.",
                    None,
                ),
            ),
        ];
        let mut table = String::new();
        for (name, err) in &answers {
            let mut row = Vec::new();
            for kind in [
                WriteKind::Upsert,
                WriteKind::Create,
                WriteKind::Update,
                WriteKind::Delete,
                WriteKind::Read,
            ] {
                let fresh = classify(kind, err, Replication::Pending, Consent::NotNeeded);
                let old = classify(kind, err, Replication::Settled, Consent::NotNeeded);
                row.push(if fresh == old {
                    format!("{kind:?}={fresh:?}")
                } else {
                    format!("{kind:?}={fresh:?}/{old:?}")
                });
            }
            table.push_str(&format!("{name}: {}\n", row.join(" ")));
        }
        insta::assert_snapshot!(table, @r"
        404 not found: Upsert=WaitForReplication/Fail Create=WaitForReplication/Fail Update=WaitForReplication/Fail Delete=Done Read=WaitForReplication/Fail
        400 no backing app: Upsert=WaitForReplication Create=WaitForReplication Update=WaitForReplication Delete=WaitForReplication Read=WaitForReplication
        400 not a valid reference: Upsert=WaitForReplication/Fail Create=WaitForReplication/Fail Update=WaitForReplication/Fail Delete=WaitForReplication/Fail Read=WaitForReplication/Fail
        409 same key: Upsert=AlreadyExists Create=AlreadyExists Update=Fail Delete=Fail Read=Fail
        400 uniqueName taken: Upsert=AlreadyExists Create=AlreadyExists Update=Fail Delete=Fail Read=Fail
        400 reference not present: Upsert=WaitForReplication/Fail Create=WaitForReplication/Fail Update=WaitForReplication/Fail Delete=WaitForReplication/Fail Read=WaitForReplication/Fail
        403 backing app not local: Upsert=WaitForReplication/Fail Create=WaitForReplication/Fail Update=WaitForReplication/Fail Delete=WaitForReplication/Fail Read=WaitForReplication/Fail
        400 assignment exists: Upsert=AlreadyExists Create=AlreadyExists Update=Fail Delete=Fail Read=Fail
        400 conflicting object: Upsert=AlreadyExists Create=AlreadyExists Update=Fail Delete=Fail Read=Fail
        400 owner exists: Upsert=AlreadyExists Create=AlreadyExists Update=Fail Delete=Fail Read=Fail
        403 denied: Upsert=Fail Create=Fail Update=Fail Delete=Fail Read=Fail
        500: Upsert=Fail Create=Repeat Update=Fail Delete=Fail Read=Fail
        400 other: Upsert=Fail Create=Fail Update=Fail Delete=Fail Read=Fail
        ");
    }

    #[test]
    fn a_403_is_a_consent_matter_only_for_grants() {
        let denied = http(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
            None,
        );
        assert_eq!(
            classify(
                WriteKind::Create,
                &denied,
                Replication::Pending,
                Consent::Grants
            ),
            Disposition::ConsentRequired
        );
        assert_eq!(
            classify(
                WriteKind::Update,
                &denied,
                Replication::Settled,
                Consent::Grants
            ),
            Disposition::ConsentRequired
        );
        assert_eq!(
            classify(
                WriteKind::Create,
                &denied,
                Replication::Pending,
                Consent::NotNeeded
            ),
            Disposition::Fail
        );
    }
}
