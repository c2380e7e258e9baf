//! Least privilege, checked: each command runs as an identity holding exactly the Graph
//! application permissions `docs/authentication.md` lists for it, against a sandbox that allows
//! each Graph operation only to the permissions Microsoft documents for it. Taking one needed
//! permission away gets a 403 that names it.

use std::path::PathBuf;
use std::process::Output;

use entraform::graph::GraphClient;

use crate::apply_support::{Served, write};
use crate::common::{repo_root, stderr, stdout};
use crate::graph_support::{add_secret, grant_graph_role, new_app};

const PASSWORD: &str = "correct horse battery staple";

/// What `plan` needs for the Exchange example: apps, roles, owners, delegated grants.
const PLAN: &[&str] = &[
    "Application.Read.All",
    "RoleManagement.Read.Directory",
    "User.Read.All",
    "Directory.Read.All",
];
/// What `apply` needs besides `PLAN` for the Exchange example (no delegated permissions).
const APPLY: &[&str] = &[
    "Organization.Read.All",
    "Application.ReadWrite.OwnedBy",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
];

/// A served sandbox, its admin, and a folder with the Exchange example manifest.
struct Lab {
    served: Served,
    admin: GraphClient,
    dir: tempfile::TempDir,
    manifest: PathBuf,
}

/// An identity: client id and secret.
struct Identity(String, String);

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let served = Served::start(&dir.path().join("tenant.json"), &[]);
        let admin = served.admin_client();
        let manifest = PathBuf::from("manifests/exchange-online-app.yaml");
        let text = std::fs::read_to_string(repo_root().join("manifests/exchange-online-app.yaml"))
            .unwrap();
        write(dir.path(), "manifests/exchange-online-app.yaml", &text);
        Lab {
            served,
            admin,
            dir,
            manifest,
        }
    }

    /// A new application holding exactly `roles` of Microsoft Graph, with a client secret.
    async fn identity(&self, name: &str, roles: &[&str]) -> Identity {
        let (app, sp) = new_app(&self.admin, name).await;
        for role in roles {
            grant_graph_role(&self.admin, &sp, role).await;
        }
        Identity(app.app_id.to_string(), add_secret(&self.admin, &app).await)
    }

    /// `entraform <args>` signed in as `who`, in the lab's folder.
    async fn run(&self, who: &Identity, args: &[&str]) -> Output {
        let mut cmd = self.served.entraform();
        cmd.current_dir(self.dir.path())
            .env("AZURE_CLIENT_ID", &who.0)
            .env("AZURE_CLIENT_SECRET", &who.1)
            .env("EXO_PFX_PASSWORD", PASSWORD)
            .args(args);
        let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap();
        eprintln!("$ entraform {}\n{}", args.join(" "), stderr(&out));
        out
    }

    /// The sandbox's bootstrap admin.
    fn admin_identity(&self) -> Identity {
        Identity(
            self.served.field("client_id").to_owned(),
            self.served.field("client_secret").to_owned(),
        )
    }

    fn manifest(&self) -> &str {
        self.manifest.to_str().unwrap()
    }
}

fn all(sets: &[&[&'static str]]) -> Vec<&'static str> {
    sets.iter().flat_map(|s| s.iter().copied()).collect()
}

/// The run failed on a 403 whose hint names `permission`.
fn refused_naming(out: &Output, request: &str, permission: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(request) && err.contains("403 Authorization_RequestDenied"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "needs the Graph application permission `{permission}`"
        )),
        "{err}"
    );
}

/// A manifest for `name` whose spec also has `extra` (indented YAML lines).
fn manifest(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: entraform/v1\nkind: Application\nmetadata:\n  name: {name}\nspec:\n  displayName: {name}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_needs_exactly_the_documented_permissions() {
    let lab = Lab::new();
    let reader = lab.identity("reader", &["Application.Read.All"]).await;
    // Each part a manifest can manage, alone: Application.Read.All is refused the read the
    // part needs, with a hint naming the permission; adding exactly that permission plans.
    let cases = [
        ("bare", "", None),
        (
            "roles",
            "  directoryRoles: [Exchange Administrator]\n",
            Some((
                "GET /roleManagement/directory/roleDefinitions",
                "RoleManagement.Read.Directory",
            )),
        ),
        (
            "owners",
            "  owners: [admin@contoso.onmicrosoft.com]\n",
            Some(("GET /users", "User.Read.All")),
        ),
        (
            "assignments",
            "  assignments:\n    - principal: Sales\n",
            Some(("GET /groups", "Group.Read.All")),
        ),
        (
            "grants",
            "  apiPermissions:\n    - api: Microsoft Graph\n      delegated: [User.Read]\n",
            Some(("GET /oauth2PermissionGrants", "Directory.Read.All")),
        ),
    ];
    let admin = lab.admin_identity();
    for (name, extra, needs) in cases {
        let file = format!("{name}/app.yaml");
        write(lab.dir.path(), &file, &manifest(name, extra));
        // Applied first: a delegated grant is read only for an app that exists.
        let applied = lab.run(&admin, &["apply", "--auto-approve", &file]).await;
        assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
        let identity = match needs {
            None => &reader,
            Some((request, permission)) => {
                refused_naming(
                    &lab.run(&reader, &["plan", &file]).await,
                    request,
                    permission,
                );
                &lab.identity(name, &["Application.Read.All", permission])
                    .await
            }
        };
        let out = lab
            .run(identity, &["plan", "--detailed-exitcode", &file])
            .await;
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    }

    // The Exchange example manages all of them.
    let full = lab.identity("planner", PLAN).await;
    let out = lab.run(&full, &["plan", lab.manifest()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("to add"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_needs_exactly_the_documented_permissions_and_organization_read_before_any_write() {
    let lab = Lab::new();
    // A manifest with nothing but the app needs no Directory.Read.All, which would read the
    // organization too: without Organization.Read.All, apply is refused before any write.
    write(lab.dir.path(), "bare/app.yaml", &manifest("bare", ""));
    let bare = &["Application.Read.All", "Application.ReadWrite.OwnedBy"];
    let blind = lab.identity("no-organization", bare).await;
    let out = lab
        .run(&blind, &["apply", "--auto-approve", "bare/app.yaml"])
        .await;
    refused_naming(&out, "GET /organization", "Organization.Read.All");
    let raw = lab.served.raw().await;
    assert!(
        raw.list("/applications?$filter=uniqueName eq 'bare'")
            .await
            .is_empty(),
        "nothing was written"
    );
    let sighted = lab
        .identity(
            "bare-deployer",
            &[bare, &["Organization.Read.All"][..]].concat(),
        )
        .await;
    let out = lab
        .run(&sighted, &["apply", "--auto-approve", "bare/app.yaml"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // With exactly the documented set (owning what it creates): applied, and the next plan by
    // the same identity finds nothing to do, keeping itself an owner.
    let deployer = lab.identity("deployer", &all(&[PLAN, APPLY])).await;
    let out = lab
        .run(&deployer, &["apply", "--auto-approve", lab.manifest()])
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("-Organization contoso.onmicrosoft.com"),
        "{}",
        stdout(&out)
    );
    let again = lab
        .run(&deployer, &["plan", "--detailed-exitcode", lab.manifest()])
        .await;
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("keeps entraform's own service principal"),
        "{}",
        stdout(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certs_export_and_test_login_need_exactly_the_documented_permissions() {
    let lab = Lab::new();
    let admin = lab.admin_identity();
    let applied = lab
        .run(&admin, &["apply", "--auto-approve", lab.manifest()])
        .await;
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));

    let reader = lab.identity("reader", &["Application.Read.All"]).await;
    let certs = lab.run(&reader, &["certs", lab.manifest()]).await;
    assert_eq!(certs.status.code(), Some(0), "{}", stderr(&certs));
    assert!(stdout(&certs).contains("automation"), "{}", stdout(&certs));

    let login = lab
        .run(
            &reader,
            &[
                "test-login",
                "--app",
                "exo-v2-app",
                "--scope",
                "https://outlook.office365.com/.default",
                lab.manifest(),
            ],
        )
        .await;
    assert_eq!(login.status.code(), Some(0), "{}", stderr(&login));
    assert!(
        stdout(&login).contains("Exchange.ManageAsApp"),
        "{}",
        stdout(&login)
    );

    let exporter = lab
        .identity(
            "exporter",
            &[
                "Application.Read.All",
                "RoleManagement.Read.Directory",
                "Directory.Read.All",
            ],
        )
        .await;
    let out_dir = lab.dir.path().join("exported");
    let export = lab
        .run(
            &exporter,
            &[
                "export",
                "--app-id",
                &applied_app_id(&lab).await,
                "--out",
                out_dir.to_str().unwrap(),
            ],
        )
        .await;
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    assert!(out_dir.join("exo-v2-app.yaml").exists());
    let no_grants = lab
        .identity(
            "exporter-without-grants",
            &["Application.Read.All", "RoleManagement.Read.Directory"],
        )
        .await;
    let refused = lab
        .run(
            &no_grants,
            &[
                "export",
                "--all",
                "--out",
                lab.dir.path().join("x").to_str().unwrap(),
            ],
        )
        .await;
    refused_naming(
        &refused,
        "GET /oauth2PermissionGrants",
        "Directory.Read.All",
    );
}

async fn applied_app_id(lab: &Lab) -> String {
    let raw = lab.served.raw().await;
    raw.list("/applications?$filter=uniqueName eq 'exo-v2-app'&$select=appId")
        .await[0]["appId"]
        .as_str()
        .unwrap()
        .to_owned()
}
