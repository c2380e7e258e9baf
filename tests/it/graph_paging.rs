//! Reading large collections from the sandbox: 2,500 applications created through `$batch`,
//! then listed by following `@odata.nextLink` (plain, with `ConsistencyLevel`, and batched).

use std::collections::HashSet;

use entraform::graph::types::Application;
use entraform::graph::{BatchRequest, EVENTUAL_CONSISTENCY, RetrySafety, in_filters};
use serde_json::json;

use crate::graph_support::*;

const APPS: usize = 2_500;

#[tokio::test]
async fn twenty_five_hundred_applications_are_listed_exactly_once_in_few_requests() {
    let t = start().await;
    let creates = (0..APPS)
        .map(|i| {
            BatchRequest::post(
                "/applications",
                json!({"displayName": format!("page-{i:04}"), "signInAudience": "AzureADMyOrg"}),
                RetrySafety::NotIdempotent,
            )
        })
        .collect();
    let created = t.admin.batch(creates).await.unwrap();
    let created: Vec<Application> = created
        .into_iter()
        .map(|o| {
            let r = o.unwrap();
            assert!(r.created());
            r.json().unwrap()
        })
        .collect();
    let stats = t.admin.stats();
    assert_eq!(stats.http_requests, APPS.div_ceil(20) as u64);
    assert_eq!(stats.operations, APPS as u64);

    // Largest pages: $top=999 is added for /applications, so three requests.
    let before = t.admin.stats().http_requests;
    let listed: Vec<Application> = t
        .admin
        .list_all(
            "/applications?$filter=startswith(displayName,'page-')&$select=id,appId,displayName",
        )
        .await
        .unwrap();
    assert_eq!(t.admin.stats().http_requests - before, 3);
    let ids: HashSet<_> = listed.iter().map(|a| a.id).collect();
    assert_eq!((listed.len(), ids.len()), (APPS, APPS));
    assert_eq!(ids, created.iter().map(|a| a.id).collect());

    // Small pages: every next link is followed to the end.
    let before = t.admin.stats().http_requests;
    let listed: Vec<Application> = t
        .admin
        .list_all("/applications?$filter=startswith(displayName,'page-')&$select=id,appId&$top=100")
        .await
        .unwrap();
    assert_eq!(t.admin.stats().http_requests - before, 25);
    assert_eq!(listed.iter().map(|a| a.id).collect::<HashSet<_>>(), ids);

    // An advanced query: ConsistencyLevel goes with every page, not just the first.
    let listed: Vec<Application> = t
        .admin
        .list_all_with(
            "/applications?$count=true&$filter=startswith(displayName,'page-')&$select=id,appId&$top=400",
            &[EVENTUAL_CONSISTENCY],
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), APPS);

    // Several lists at once: first pages in one $batch, then each part's next link.
    let paths: Vec<String> = ["page-0", "page-1", "page-24"]
        .iter()
        .map(|p| format!("/applications?$filter=startswith(displayName,'{p}')&$select=id,appId,displayName&$top=150"))
        .collect();
    let lists = t
        .admin
        .batch_list_all::<Application>(&paths, &[])
        .await
        .unwrap();
    let counts: Vec<usize> = lists.into_iter().map(|l| l.unwrap().len()).collect();
    assert_eq!(counts, vec![1000, 1000, 100]);
}

#[tokio::test]
async fn many_objects_are_read_with_in_filters_packed_into_one_batch() {
    let t = start().await;
    let creates = (0..40)
        .map(|i| {
            BatchRequest::post(
                "/applications",
                json!({"displayName": format!("in-{i}")}),
                RetrySafety::NotIdempotent,
            )
        })
        .collect();
    let app_ids: Vec<String> = t
        .admin
        .batch(creates)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.unwrap().json::<Application>().unwrap().app_id.to_string())
        .collect();
    let paths: Vec<String> = in_filters("appId", &app_ids)
        .into_iter()
        .map(|f| format!("/applications?$filter={f}&$select=id,appId"))
        .collect();
    assert_eq!(paths.len(), 3);
    let before = t.admin.stats();
    let found: Vec<Application> = t
        .admin
        .batch_list_all(&paths, &[])
        .await
        .unwrap()
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    let after = t.admin.stats();
    assert_eq!(after.http_requests - before.http_requests, 1);
    assert_eq!(after.operations - before.operations, 3);
    let found: HashSet<String> = found.iter().map(|a| a.app_id.to_string()).collect();
    assert_eq!(found, app_ids.into_iter().collect());
}

#[tokio::test]
async fn a_body_that_does_not_fit_the_type_names_the_request_and_the_json_path() {
    let t = start().await;
    crate::graph_support::new_app(&t.admin, "decoded").await;
    let err = t
        .admin
        .list_all::<entraform::graph::types::AppRoleAssignment>("/applications")
        .await
        .unwrap_err();
    match &err {
        entraform::graph::GraphError::Decode {
            method,
            path,
            json_path,
            ..
        } => {
            assert_eq!(method, "GET");
            assert_eq!(path, "/applications?$top=999");
            assert!(json_path.starts_with("value["), "{json_path}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let chain = std::error::Error::source(&err).unwrap().to_string();
    assert!(chain.contains("missing field"), "{chain}");
}
