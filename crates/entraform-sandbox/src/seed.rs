//! A new tenant, seeded like a real one: a tenant id and `*.onmicrosoft.com` domain; the Microsoft
//! Graph and Office 365 Exchange Online service principals with their real appIds, app roles and
//! scopes (real ids, checked against Microsoft's permission references); the built-in directory
//! role definitions with their real template ids; a few users; and a bootstrap admin application
//! holding exactly the Graph roles entraform needs.

use serde_json::{Value, json};

use super::graph::{apps, assignments, groups, roles, sps, users};
use super::jwt;
use super::state::{Bootstrap, Document, Entry, FORMAT_VERSION, StoredSecret, Tenant};
use super::{SandboxError, iso, new_guid, wall_ms};

pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
pub(crate) const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// The tenant that owns Microsoft's first-party applications.
const MICROSOFT_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";

/// Microsoft Graph application permissions: (value, id, display name, description).
const GRAPH_APP_ROLES: &[(&str, &str, &str, &str)] = &[
    (
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "Read all applications",
        "Allows the app to read all applications and service principals without a signed-in user.",
    ),
    (
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "Read and write all applications",
        "Allows the app to create, read, update and delete applications and service principals without a signed-in user.",
    ),
    (
        "Application.ReadWrite.OwnedBy",
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
        "Manage apps that this app creates or owns",
        "Allows the app to create other applications, and fully manage those applications (read, update, update application secrets and delete), without a signed-in user.",
    ),
    (
        "Reports.Read.All",
        "230c1aed-a721-4c5d-9cb4-a90514e508ef",
        "Read all usage reports",
        "Allows an app to read all service usage reports without a signed-in user.",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Manage app permission grants and app role assignments",
        "Allows the app to manage permission grants for application permissions to any API and application assignments for any app, without a signed-in user.",
    ),
    (
        "DelegatedPermissionGrant.ReadWrite.All",
        "8e8e4742-1d95-4f68-9d56-6ee75648c72a",
        "Manage all delegated permission grants",
        "Allows the app to grant or revoke any delegated permission for any API, without a signed-in user.",
    ),
    (
        "Directory.Read.All",
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "Read directory data",
        "Allows the app to read data in your organization's directory, such as users, groups and apps, without a signed-in user.",
    ),
    (
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
        "Read and write directory data",
        "Allows the app to read and write data in your organization's directory, such as users, and groups, without a signed-in user.",
    ),
    (
        "RoleManagement.Read.Directory",
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
        "Read all directory RBAC settings",
        "Allows the app to read the role-based access control (RBAC) settings for your company's directory, without a signed-in user.",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
        "Read and write all directory RBAC settings",
        "Allows the app to read and manage the role-based access control (RBAC) settings for your company's directory, without a signed-in user.",
    ),
    (
        "User.Read.All",
        "df021288-bdef-4463-88db-98f22de89214",
        "Read all users' full profiles",
        "Allows the app to read user profiles without a signed in user.",
    ),
    (
        "User.ReadWrite.All",
        "741f803b-c850-494e-b5df-cde7c675a1ca",
        "Read and write all users' full profiles",
        "Allows the app to read and update user profiles without a signed in user.",
    ),
    (
        "Group.Read.All",
        "5b567255-7703-4780-807c-7be8301ae99b",
        "Read all groups",
        "Allows the app to read group properties and memberships, and read conversations for all groups, without a signed-in user.",
    ),
    (
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
        "Read and write all groups",
        "Allows the app to create groups, read all group properties and memberships, update group properties and memberships, and delete groups, without a signed-in user.",
    ),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
        "Read all group memberships",
        "Allows the app to read memberships and basic group properties for all groups without a signed-in user.",
    ),
    (
        "GroupMember.ReadWrite.All",
        "dbaae8cf-10b5-4b86-a4a1-f871c94c6695",
        "Read and write all group memberships",
        "Allows the app to list groups, read basic properties, read and update the membership of the groups this app has access to without a signed-in user.",
    ),
    (
        "Mail.Read",
        "810c84a8-4a9e-49e6-bf7d-12d183f40d01",
        "Read mail in all mailboxes",
        "Allows the app to read mail in all mailboxes without a signed-in user.",
    ),
    (
        "Mail.ReadWrite",
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
        "Read and write mail in all mailboxes",
        "Allows the app to create, read, update, and delete mail in all mailboxes without a signed-in user. Does not include permission to send mail.",
    ),
    (
        "Mail.Send",
        "b633e1c5-b582-4048-a93e-9f11b44c7e96",
        "Send mail as any user",
        "Allows the app to send mail as any user without a signed-in user.",
    ),
    (
        "MailboxSettings.Read",
        "40f97065-369a-49f4-947c-6a255697ae91",
        "Read all user mailbox settings",
        "Allows the app to read user's mailbox settings without a signed-in user.",
    ),
    (
        "Calendars.Read",
        "798ee544-9d2d-430c-a058-570e29e34338",
        "Read calendars in all mailboxes",
        "Allows the app to read events of all calendars without a signed-in user.",
    ),
    (
        "Calendars.ReadWrite",
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        "Read and write calendars in all mailboxes",
        "Allows the app to create, read, update, and delete events of all calendars without a signed-in user.",
    ),
    (
        "Sites.Read.All",
        "332a536c-c7ef-4017-ab91-336970924f0d",
        "Read items in all site collections",
        "Allows the app to read documents and list items in all site collections without a signed in user.",
    ),
    (
        "Sites.ReadWrite.All",
        "9492366f-7969-46a4-8d15-ed1a20078fff",
        "Read and write items in all site collections",
        "Allows the app to create, read, update, and delete documents and list items in all site collections without a signed in user.",
    ),
    (
        "Sites.FullControl.All",
        "a82116e5-55eb-4c41-a434-62fe8a61c773",
        "Have full control of all site collections",
        "Allows the app to have full control of all site collections without a signed in user.",
    ),
    (
        "Files.Read.All",
        "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
        "Read files in all site collections",
        "Allows the app to read all files in all site collections without a signed in user.",
    ),
    (
        "Files.ReadWrite.All",
        "75359482-378d-4052-8f01-80520e7db3cd",
        "Read and write files in all site collections",
        "Allows the app to read, create, update and delete all files in all site collections without a signed in user.",
    ),
    (
        "Organization.Read.All",
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
        "Read organization information",
        "Allows the app to read the organization and related resources, without a signed-in user.",
    ),
    (
        "Organization.ReadWrite.All",
        "292d869f-3427-49a8-9dab-8c70152b74e9",
        "Read and write organization information",
        "Allows the app to read and write the organization and related resources, without a signed-in user.",
    ),
    (
        "AuditLog.Read.All",
        "b0afded3-3588-46d8-8b3d-9842eff778da",
        "Read all audit log data",
        "Allows the app to read and query your audit log activities, without a signed-in user.",
    ),
    (
        "Policy.Read.All",
        "246dd0d5-5bd0-4def-940b-0421030a5b68",
        "Read your organization's policies",
        "Allows the app to read all your organization's policies without a signed in user.",
    ),
    (
        "Domain.Read.All",
        "dbb9058a-0e50-45d7-ae91-66909b5d4664",
        "Read domains",
        "Allows the app to read all domain properties without a signed-in user.",
    ),
    (
        "User.Invite.All",
        "09850681-111b-4a89-9bed-3f2cae46d706",
        "Invite guest users to the organization",
        "Allows the app to invite guest users to the organization, without a signed-in user.",
    ),
];

/// Microsoft Graph delegated permissions: (value, id, admin display name, type).
const GRAPH_SCOPES: &[(&str, &str, &str, &str)] = &[
    (
        "User.Read",
        "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
        "Sign in and read user profile",
        "User",
    ),
    (
        "User.Read.All",
        "a154be20-db9c-4678-8ab7-66f6cc099a59",
        "Read all users' full profiles",
        "Admin",
    ),
    (
        "openid",
        "37f7f235-527c-4136-accd-4a02d197296e",
        "Sign users in",
        "User",
    ),
    (
        "profile",
        "14dad69e-099b-42c9-810b-d002981feec1",
        "View users' basic profile",
        "User",
    ),
    (
        "email",
        "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0",
        "View users' email address",
        "User",
    ),
    (
        "offline_access",
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "Maintain access to data you have given it access to",
        "User",
    ),
    (
        "Directory.Read.All",
        "06da0dbc-49e2-44d2-8312-53f166ab848a",
        "Read directory data",
        "Admin",
    ),
    (
        "Application.Read.All",
        "c79f8feb-a9db-4090-85f9-90d820caa0eb",
        "Read applications",
        "Admin",
    ),
    (
        "Application.ReadWrite.All",
        "bdfbf15f-ee85-4955-8675-146e8e5296b5",
        "Read and write all applications",
        "Admin",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "84bccea3-f856-4a8a-967b-dbe0a3d53a64",
        "Manage app permission grants and app role assignments",
        "Admin",
    ),
    (
        "Policy.Read.All",
        "572fea84-0151-49b2-9301-11cb16974376",
        "Read your organization's policies",
        "Admin",
    ),
    (
        "Policy.ReadWrite.ConditionalAccess",
        "ad902697-1014-4ef5-81ef-2b4301988e8c",
        "Read and write your organization's conditional access policies",
        "Admin",
    ),
];

/// Office 365 Exchange Online application permissions with Microsoft's ids.
const EXCHANGE_APP_ROLES: &[(&str, &str, &str)] = &[
    (
        "Exchange.ManageAsApp",
        "dc50a0fb-09a3-484d-be87-e023b12c6440",
        "Manage Exchange As Application",
    ),
    (
        "full_access_as_app",
        "dc890d15-9560-4a4c-9b7f-a736ec74ec40",
        "Use Exchange Web Services with full access to all mailboxes",
    ),
    (
        "IMAP.AccessAsApp",
        "5e5addcd-3e8d-4e90-baf5-964efab2b20a",
        "IMAP.AccessAsApp",
    ),
    (
        "POP.AccessAsApp",
        "cb842b43-da6e-4506-86fe-bb12199c656d",
        "POP.AccessAsApp",
    ),
    (
        "SMTP.SendAsApp",
        "7146a1f0-8703-45b3-9eae-527a64c00995",
        "SMTP.SendAsApp",
    ),
];

pub(crate) const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";

/// Office 365 SharePoint Online application permissions with Microsoft's ids (the SharePoint
/// REST API's own roles, not Microsoft Graph's `Sites.*`, whose ids differ).
const SHAREPOINT_APP_ROLES: &[(&str, &str, &str)] = &[
    (
        "Sites.Selected",
        "20d37865-089c-4dee-8c41-6967602d4ac8",
        "Access selected site collections",
    ),
    (
        "Sites.Read.All",
        "d13f72ca-a275-4b96-b789-48ebcc4da984",
        "Read items in all site collections",
    ),
    (
        "Sites.ReadWrite.All",
        "fbcd29d2-fcca-4405-aded-518d457caae4",
        "Read and write items in all site collections",
    ),
    (
        "Sites.FullControl.All",
        "678536fe-1083-478a-9c59-b99265e6b0d3",
        "Have full control of all site collections",
    ),
];

/// Look-alike Exchange roles that exist on the real service principal. Their ids are not in
/// any source this sandbox was built from, so each tenant generates its own: they exist only
/// to make sure callers match permission *names* exactly.
const EXCHANGE_LOOKALIKES: &[(&str, &str)] = &[
    (
        "Exchange.ManageAsAppV2",
        "Manage Exchange As Application (V2)",
    ),
    (
        "Exchange.AdminAPI.ManageAsApp",
        "Manage Exchange through the Admin API as Application",
    ),
];

const EXCHANGE_SCOPES: &[(&str, &str, &str)] = &[(
    "EWS.AccessAsUser.All",
    "3b5f3d61-589b-4a3c-a359-5dd4b5ee5bd5",
    "Access mailboxes as the signed-in user via Exchange Web Services",
)];

/// Built-in directory roles: (template id, display name, description).
const ROLE_DEFINITIONS: &[(&str, &str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ),
    (
        "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Exchange Administrator",
        "Can manage all aspects of the Exchange product.",
    ),
    (
        "31392ffb-586c-42d1-9346-e59415a2cc4e",
        "Exchange Recipient Administrator",
        "Can create or update Exchange Online recipients within the Exchange Online organization.",
    ),
    (
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Global Reader",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    (
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Security Reader",
        "Can read security information and reports in Microsoft Entra ID and Office 365.",
    ),
    (
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Security Administrator",
        "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
    ),
    (
        "17315797-102d-40b4-93e0-432062caca18",
        "Compliance Administrator",
        "Can read and manage compliance configuration and reports in Microsoft Entra ID and Microsoft 365.",
    ),
    (
        "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        "Helpdesk Administrator",
        "Can reset passwords for non-administrators and Helpdesk Administrators.",
    ),
    (
        "f023fd81-a637-4b56-95fd-791ac0226033",
        "Service Support Administrator",
        "Can read service health information and manage support tickets.",
    ),
    (
        "b0f54661-2d74-4c50-afa3-1ec803f12efe",
        "Billing Administrator",
        "Can perform common billing related tasks like updating payment information.",
    ),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps.",
    ),
    (
        "158c047a-c907-4556-b7ef-446551a6b5f7",
        "Cloud Application Administrator",
        "Can create and manage all aspects of app registrations and enterprise apps except App Proxy.",
    ),
    (
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "Privileged Role Administrator",
        "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
    ),
    (
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "User Administrator",
        "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
    ),
    (
        "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
        "Directory Readers",
        "Can read basic directory information. Commonly used to grant directory read access to applications and guests.",
    ),
];

/// Security groups every new sandbox tenant has, by display name and description.
pub(crate) const SEEDED_GROUPS: &[(&str, &str)] = &[
    ("Sales", "Sales and marketing"),
    ("Engineering", "Product engineering"),
];

/// Graph roles the bootstrap admin holds: exactly what entraform's plan and apply use.
pub(crate) const BOOTSTRAP_ROLES: &[&str] = &[
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "DelegatedPermissionGrant.ReadWrite.All",
    "User.Read.All",
    "Group.Read.All",
    "Organization.Read.All",
];

/// A tenant saved by an older entraform: its bootstrap admin is given any Graph role entraform
/// has come to need since (assigned the normal way, so its tokens carry it). Idempotent.
pub(crate) fn top_up_bootstrap(doc: &mut Document) {
    let now = wall_ms();
    key_vault_service_principal(doc, now);
    let Some(graph_sp) = doc
        .service_principals
        .values()
        .find(|e| e.str("appId") == GRAPH_APP_ID)
        .map(|e| e.str("id").to_owned())
    else {
        return;
    };
    let admin = doc.bootstrap.service_principal_id.clone();
    for role in BOOTSTRAP_ROLES {
        let Some((_, id, ..)) = GRAPH_APP_ROLES.iter().find(|x| x.0 == *role) else {
            continue;
        };
        let held = doc.app_role_assignments.values().any(|a| {
            a.str("principalId") == admin
                && a.str("resourceId") == graph_sp
                && a.str("appRoleId").eq_ignore_ascii_case(id)
        });
        if !held {
            // A role the saved Graph service principal does not offer is left out.
            let _ = assignments::assign(doc, &admin, &graph_sp, id, now, now);
        }
    }
}

fn app_role(value: &str, id: &str, display: &str, description: &str) -> Value {
    json!({
        "allowedMemberTypes": ["Application"],
        "description": description,
        "displayName": display,
        "id": id,
        "isEnabled": true,
        "origin": "Application",
        "value": value,
    })
}

fn scope(value: &str, id: &str, display: &str, kind: &str) -> Value {
    json!({
        "adminConsentDescription": format!("Allows the app to {}.", display.to_lowercase()),
        "adminConsentDisplayName": display,
        "id": id,
        "isEnabled": true,
        "type": kind,
        "userConsentDescription": format!("Allows the app to {}.", display.to_lowercase()),
        "userConsentDisplayName": display,
        "value": value,
    })
}

fn first_party(
    doc: &mut Document,
    app_id: &str,
    name: &str,
    roles: Vec<Value>,
    scopes: Vec<Value>,
    spn: &str,
    now: i64,
) -> String {
    let id = new_guid();
    let mut o = sps::new_object(&id, app_id, name, MICROSOFT_TENANT);
    o.insert("appRoles".into(), Value::Array(roles));
    o.insert("oauth2PermissionScopes".into(), Value::Array(scopes));
    o.insert("servicePrincipalNames".into(), json!([app_id, spn]));
    o.insert("signInAudience".into(), json!("AzureADMultipleOrgs"));
    o.insert("publisherName".into(), json!("Microsoft Services"));
    doc.service_principals
        .insert(id.clone(), Entry::new(o, now));
    id
}

/// The initial domain of every sandbox tenant.
pub const SANDBOX_DOMAIN: &str = "contoso.onmicrosoft.com";

/// A new tenant with its bootstrap admin. Generates an RSA key: call off the async runtime.
pub(crate) fn new_tenant() -> Result<Document, SandboxError> {
    let now = wall_ms();
    let tenant_id = new_guid();
    // Microsoft's own example tenant, so the example manifests (owners such as
    // `admin@contoso.onmicrosoft.com`) resolve in a fresh sandbox; the tenant id stays random.
    let domain = SANDBOX_DOMAIN.to_owned();
    let signing_key = jwt::new_signing_key()?;
    let mut doc = Document {
        format_version: FORMAT_VERSION,
        tenant: Tenant {
            id: tenant_id.clone(),
            domain: domain.clone(),
            display_name: "entraform sandbox".into(),
        },
        bootstrap: Bootstrap {
            client_id: String::new(),
            client_secret: String::new(),
            application_id: String::new(),
            service_principal_id: String::new(),
        },
        signing_key,
        applications: Default::default(),
        service_principals: Default::default(),
        app_role_assignments: Default::default(),
        oauth2_permission_grants: Default::default(),
        role_definitions: Default::default(),
        role_assignments: Default::default(),
        users: Default::default(),
        groups: Default::default(),
        deleted_applications: Default::default(),
        deleted_service_principals: Default::default(),
        key_vaults: Default::default(),
        key_vault_roles: Default::default(),
        journal_generation: 0,
    };

    let graph_roles = GRAPH_APP_ROLES
        .iter()
        .map(|(v, id, d, desc)| app_role(v, id, d, desc))
        .collect();
    let graph_scopes = GRAPH_SCOPES
        .iter()
        .map(|(v, id, d, k)| scope(v, id, d, k))
        .collect();
    let graph_sp = first_party(
        &mut doc,
        GRAPH_APP_ID,
        "Microsoft Graph",
        graph_roles,
        graph_scopes,
        "https://graph.microsoft.com",
        now,
    );

    let mut exo_roles: Vec<Value> = EXCHANGE_APP_ROLES
        .iter()
        .map(|(v, id, d)| {
            app_role(
                v,
                id,
                d,
                &format!("Allows the app to {}.", d.to_lowercase()),
            )
        })
        .collect();
    for (v, d) in EXCHANGE_LOOKALIKES {
        exo_roles.push(app_role(
            v,
            &new_guid(),
            d,
            &format!("Allows the app to {}.", d.to_lowercase()),
        ));
    }
    let exo_scopes = EXCHANGE_SCOPES
        .iter()
        .map(|(v, id, d)| scope(v, id, d, "User"))
        .collect();
    first_party(
        &mut doc,
        EXCHANGE_APP_ID,
        "Office 365 Exchange Online",
        exo_roles,
        exo_scopes,
        "https://outlook.office365.com",
        now,
    );

    let sharepoint_roles = SHAREPOINT_APP_ROLES
        .iter()
        .map(|(v, id, d)| {
            app_role(
                v,
                id,
                d,
                &format!("Allows the app to {}.", d.to_lowercase()),
            )
        })
        .collect();
    first_party(
        &mut doc,
        SHAREPOINT_APP_ID,
        "Office 365 SharePoint Online",
        sharepoint_roles,
        Vec::new(),
        "https://microsoft.sharepoint.com",
        now,
    );

    for (id, name, description) in ROLE_DEFINITIONS {
        let o = json!({
            "id": id,
            "description": description,
            "displayName": name,
            "isBuiltIn": true,
            "isEnabled": true,
            "resourceScopes": ["/"],
            "templateId": id,
            "version": "1",
            "rolePermissions": [{"allowedResourceActions": [], "condition": null}],
            "inheritsPermissionsFrom": [],
        });
        doc.role_definitions.insert(
            id.to_string(),
            Entry::new(o.as_object().cloned().expect("object literal"), now),
        );
    }

    let mut admin_id = String::new();
    for (login, display, given, surname) in [
        ("admin", "Sandbox Administrator", "Sandbox", "Administrator"),
        ("alex", "Alex Wilber", "Alex", "Wilber"),
        ("megan", "Megan Bowen", "Megan", "Bowen"),
    ] {
        let id = new_guid();
        let upn = format!("{login}@{domain}");
        doc.users.insert(
            id.clone(),
            Entry::new(users::new_user(&id, &upn, display, given, surname), now),
        );
        if login == "admin" {
            admin_id = id;
        }
    }
    // Security groups to assign to apps' roles.
    for (name, description) in SEEDED_GROUPS {
        let id = new_guid();
        doc.groups.insert(
            id.clone(),
            Entry::new(
                groups::new_group(&id, name, description, &crate::iso_ticks(now)),
                now,
            ),
        );
    }
    roles::assign(
        &mut doc,
        "62e90394-69f5-4237-9190-012177145e10",
        &admin_id,
        "/",
        now,
        now,
    )
    .expect("seeded ids are consistent");

    // The bootstrap admin: an application, its service principal, a client secret, and the
    // Graph roles as real app role assignments (so tokens carry them the normal way).
    let app_object_id = new_guid();
    let client_id = new_guid();
    let mut app = apps::new_object(
        &app_object_id,
        &client_id,
        "entraform sandbox admin",
        &domain,
        now,
    );
    app.insert("signInAudience".into(), json!("AzureADMyOrg"));
    app.insert("uniqueName".into(), json!("entraform-sandbox-admin"));
    app.insert(
        "notes".into(),
        json!("Bootstrap identity of the entraform sandbox."),
    );
    let secret = apps::new_secret_text();
    let key_id = new_guid();
    app.insert(
        "passwordCredentials".into(),
        json!([{
            "customKeyIdentifier": null,
            "displayName": "sandbox bootstrap",
            "endDateTime": iso(now + 100 * 365 * 24 * 3600 * 1000),
            "hint": &secret[..3],
            "keyId": key_id,
            "secretText": null,
            "startDateTime": iso(now),
        }]),
    );
    app.insert(
        "requiredResourceAccess".into(),
        json!([{
            "resourceAppId": GRAPH_APP_ID,
            "resourceAccess": BOOTSTRAP_ROLES.iter().map(|r| {
                let id = GRAPH_APP_ROLES.iter().find(|x| x.0 == *r).expect("a seeded role").1;
                json!({"id": id, "type": "Role"})
            }).collect::<Vec<_>>(),
        }]),
    );
    let mut app_entry = Entry::new(app, now);
    app_entry.secrets.push(StoredSecret {
        key_id,
        text: secret.clone(),
    });
    doc.applications.insert(app_object_id.clone(), app_entry);
    let sp_id = new_guid();
    let sp = sps::new_object(&sp_id, &client_id, "entraform sandbox admin", &tenant_id);
    doc.service_principals
        .insert(sp_id.clone(), Entry::new(sp, now));
    for role in BOOTSTRAP_ROLES {
        let id = GRAPH_APP_ROLES
            .iter()
            .find(|x| x.0 == *role)
            .expect("a seeded role")
            .1;
        assignments::assign(&mut doc, &sp_id, &graph_sp, id, now, now)
            .expect("seeded ids are consistent");
    }
    doc.bootstrap = Bootstrap {
        client_id,
        client_secret: secret,
        application_id: app_object_id,
        service_principal_id: sp_id,
    };
    key_vault_service_principal(&mut doc, now);
    crate::keyvault::store::grant_admin(&mut doc);
    Ok(doc)
}

/// Azure Key Vault's first-party service principal, which tokens for `https://vault.azure.net`
/// are issued for (added to tenants saved before the sandbox served Key Vault). Idempotent.
fn key_vault_service_principal(doc: &mut Document, now: i64) {
    let app_id = crate::keyvault::KEY_VAULT_APP_ID;
    if doc
        .service_principals
        .values()
        .any(|e| e.str("appId") == app_id)
    {
        return;
    }
    first_party(
        doc,
        app_id,
        "Azure Key Vault",
        Vec::new(),
        Vec::new(),
        crate::keyvault::RESOURCE,
        now,
    );
}
