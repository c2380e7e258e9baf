//! `$batch` against the sandbox: results in input order, per-part errors with Graph's codes,
//! `dependsOn` and 424, upserts that tell created from updated, groups beyond 20.

use entraform::graph::types::Application;
use entraform::graph::{BatchRequest, GraphError, RetrySafety};
use serde_json::json;

use crate::graph_support::*;

fn http_error(outcome: &entraform::graph::BatchOutcome) -> &entraform::graph::HttpError {
    match outcome {
        Err(GraphError::Http(e)) => e,
        other => panic!("expected a Graph error, got {other:?}"),
    }
}

#[tokio::test]
async fn each_part_gets_its_own_result_in_input_order() {
    let t = start().await;
    let (app, _) = new_app(&t.admin, "batch-target").await;
    let missing = "3f76be04-5cf0-47f1-9df6-d05981a450fc";
    let requests = vec![
        BatchRequest::get(format!("/applications/{}", app.id)),
        BatchRequest::get(format!("/applications/{missing}")),
        // No displayName: Graph refuses the create.
        BatchRequest::post(
            "/applications",
            json!({"signInAudience": "AzureADMyOrg"}),
            RetrySafety::NotIdempotent,
        ),
        // Depends on the refused create, so it never runs.
        BatchRequest::patch(
            format!("/applications/{}", app.id),
            json!({"description": "never"}),
            RetrySafety::Idempotent,
        )
        .after(2),
        BatchRequest::patch(
            format!("/applications/{}", app.id),
            json!({"description": "changed in a batch"}),
            RetrySafety::Idempotent,
        ),
    ];
    let outcomes = t.admin.batch(requests).await.unwrap();
    assert_eq!(outcomes.len(), 5);

    let read: Application = outcomes[0].as_ref().unwrap().json().unwrap();
    assert_eq!(read.id, app.id);

    let not_found = http_error(&outcomes[1]);
    assert_eq!(
        (not_found.status, not_found.code.as_deref()),
        (404, Some("Request_ResourceNotFound"))
    );
    assert!(not_found.in_batch && not_found.path.ends_with(missing));
    assert!(not_found.client_request_id.is_some());

    let refused = http_error(&outcomes[2]);
    assert_eq!((refused.status, refused.method.as_str()), (400, "POST"));
    assert!(refused.message.is_some(), "{refused}");

    assert_eq!(http_error(&outcomes[3]).status, 424);
    assert_eq!(outcomes[4].as_ref().unwrap().status, 204);

    let after: Application = t
        .admin
        .get(&format!("/applications/{}", app.id))
        .await
        .unwrap();
    assert_eq!(after.description.as_deref(), Some("changed in a batch"));
}

#[tokio::test]
async fn an_upsert_says_whether_it_created_or_updated() {
    let t = start().await;
    let body = json!({"displayName": "Upserted", "signInAudience": "AzureADMyOrg"});
    let first = t
        .admin
        .upsert("/applications(uniqueName='upsert-one')", &body)
        .await
        .unwrap();
    assert!(first.created());
    let app: Application = first.json().unwrap();
    assert_eq!(app.unique_name.as_deref(), Some("upsert-one"));
    let second = t
        .admin
        .upsert("/applications(uniqueName='upsert-one')", &body)
        .await
        .unwrap();
    assert_eq!((second.status, second.has_body()), (204, false));

    let outcomes = t
        .admin
        .batch(vec![
            BatchRequest::upsert("/applications(uniqueName='upsert-one')", body.clone()),
            BatchRequest::upsert("/applications(uniqueName='upsert-two')", body.clone()),
        ])
        .await
        .unwrap();
    let statuses: Vec<u16> = outcomes
        .iter()
        .map(|o| o.as_ref().unwrap().status)
        .collect();
    assert_eq!(statuses, vec![204, 201]);
    assert!(outcomes[1].as_ref().unwrap().created());
}

#[tokio::test]
async fn dependent_requests_stay_in_one_batch_when_the_input_spans_several() {
    let t = start().await;
    // 19 independent creates, then an upsert and two writes that depend on it: the chain must
    // not be split across the boundary at 20.
    let mut requests: Vec<BatchRequest> = (0..19)
        .map(|i| {
            BatchRequest::post(
                "/applications",
                json!({"displayName": format!("filler-{i}")}),
                RetrySafety::NotIdempotent,
            )
        })
        .collect();
    requests.push(BatchRequest::upsert(
        "/applications(uniqueName='chain-head')",
        json!({"displayName": "Chain"}),
    ));
    for description in ["one", "two"] {
        requests.push(
            BatchRequest::patch(
                "/applications(uniqueName='chain-head')",
                json!({"description": description}),
                RetrySafety::Idempotent,
            )
            .after(19),
        );
    }
    let before = t.admin.stats().http_requests;
    let outcomes = t.admin.batch(requests).await.unwrap();
    assert_eq!(t.admin.stats().http_requests - before, 2);
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let head: Application = t
        .admin
        .get("/applications(uniqueName='chain-head')")
        .await
        .unwrap();
    assert!(matches!(head.description.as_deref(), Some("one" | "two")));
}

#[tokio::test]
async fn a_dependency_on_a_later_request_is_refused_before_anything_is_sent() {
    let t = start().await;
    let before = t.sb.stats().total;
    let err = t
        .admin
        .batch(vec![
            BatchRequest::get("/applications").after(1),
            BatchRequest::get("/applications"),
        ])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("depends on request 1"), "{err}");
    assert_eq!(t.sb.stats().total, before);
}
