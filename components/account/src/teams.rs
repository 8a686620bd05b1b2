//! `/v1/teams` (`appwrite-api.md` §5): teams, their preferences and memberships with roles.
//! Confirmed memberships become the `team:T`, `team:T/ROLE` and `member:M` roles of the
//! member (see [`caller_memberships`]). Members read a team; owners change it; API keys do both.

use edgewrite_core::abuse::{self, Limit};
use edgewrite_core::identity::{Caller, TeamMembership};
use edgewrite_core::ports::{Rows, Statement, StoreError, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Map, Value as Json};

use crate::account::{valid_email, valid_phone};
use crate::list;
use crate::store::{secret_hash, User};

const TEAM_COLUMNS: &str = "id, name, total, prefs, created_at, updated_at";

static TEAM_FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "name", column: "name", kind: FieldKind::Text },
    Field { attribute: "total", column: "total", kind: FieldKind::Integer },
];

const TEAM_SCHEMA: Schema<'static> = Schema {
    table: "teams",
    id_column: "id",
    fields: TEAM_FIELDS,
    search: Some("id || ' ' || name"),
    fulltext: &[],
};

/// Memberships with the user and team fields their model carries, as one row source.
const MEMBERSHIP_TABLE: &str =
    "(SELECT m.rowid AS rowid, m.id AS id, m.team_id AS team_id, m.user_id AS user_id,
        m.roles AS roles, m.invited AS invited, m.joined AS joined, m.confirm AS confirm,
        m.created_at AS created_at, m.updated_at AS updated_at, u.name AS user_name,
        coalesce(u.email, '') AS user_email, coalesce(u.phone, '') AS user_phone, u.mfa AS user_mfa,
        u.accessed_at AS user_accessed_at, t.name AS team_name
    FROM memberships m JOIN users u ON u.id = m.user_id JOIN teams t ON t.id = m.team_id)";

const MEMBERSHIP_COLUMNS: &str =
    "id, team_id, user_id, roles, invited, joined, confirm, created_at, updated_at, \
     user_name, user_email, user_phone, user_mfa, user_accessed_at, team_name";

static MEMBERSHIP_FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "userId", column: "user_id", kind: FieldKind::Text },
    Field { attribute: "teamId", column: "team_id", kind: FieldKind::Text },
    Field { attribute: "invited", column: "invited", kind: FieldKind::Datetime },
    Field { attribute: "joined", column: "joined", kind: FieldKind::Datetime },
    Field { attribute: "confirm", column: "confirm", kind: FieldKind::Boolean },
    Field { attribute: "roles", column: "roles", kind: FieldKind::TextArray },
    Field { attribute: "userName", column: "user_name", kind: FieldKind::Text },
    Field { attribute: "userEmail", column: "user_email", kind: FieldKind::Text },
];

const MEMBERSHIP_SCHEMA: Schema<'static> = Schema {
    table: MEMBERSHIP_TABLE,
    id_column: "id",
    fields: MEMBERSHIP_FIELDS,
    search: Some("id || ' ' || user_id || ' ' || user_name || ' ' || user_email"),
    fulltext: &[],
};

/// The statement reading the confirmed memberships of the user `user_expr` (an SQL expression
/// with `params`), for [`caller_memberships`].
pub fn caller_memberships_statement(user_expr: &str, params: Vec<Value>) -> Statement {
    Statement::new(
        format!(
            "SELECT m.id, m.team_id, m.roles FROM memberships m JOIN teams t ON t.id = m.team_id
             WHERE m.user_id = {user_expr} AND m.confirm = 1"
        ),
        params,
    )
}

pub fn caller_memberships(rows: &Rows) -> Vec<TeamMembership> {
    rows.rows
        .iter()
        .filter_map(|row| {
            Some(TeamMembership {
                membership_id: row.first()?.as_str()?.to_string(),
                team_id: row.get(1)?.as_str()?.to_string(),
                roles: row.get(2)?.as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The statements that take a user out of every team (before the user is deleted).
pub fn leave_all_statements(user_id: &str, now: i64) -> Vec<Statement> {
    vec![
        Statement::new(
            "UPDATE teams SET total = max(total - 1, 0), updated_at = ?
             WHERE id IN (SELECT team_id FROM memberships WHERE user_id = ? AND confirm = 1)",
            vec![Value::Integer(now), user_id.into()],
        ),
        Statement::new("DELETE FROM memberships WHERE user_id = ?", vec![user_id.into()]),
    ]
}

struct Team {
    id: String,
    name: String,
    total: i64,
    prefs: Map<String, Json>,
    created_at: i64,
    updated_at: i64,
}

impl Team {
    fn from_row(row: &[Value]) -> Option<Team> {
        Some(Team {
            id: row.first()?.as_str()?.to_string(),
            name: row.get(1)?.as_str().unwrap_or_default().to_string(),
            total: row.get(2)?.as_i64().unwrap_or(0),
            prefs: row.get(3)?.as_str().and_then(|p| serde_json::from_str(p).ok()).unwrap_or_default(),
            created_at: row.get(4)?.as_i64()?,
            updated_at: row.get(5)?.as_i64()?,
        })
    }

    fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "name": self.name,
            "total": self.total,
            "prefs": Json::Object(self.prefs.clone()),
        })
    }
}

struct Membership {
    user_id: String,
    confirm: bool,
    json: Json,
}

impl Membership {
    fn from_row(row: &[Value]) -> Option<Membership> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default().to_string();
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        let roles: Vec<String> = serde_json::from_str(&text(3)).unwrap_or_default();
        let confirm = int(6) == Some(1);
        let json = json!({
            "$id": text(0),
            "$createdAt": iso_from_ms(int(7)?),
            "$updatedAt": iso_from_ms(int(8)?),
            "userId": text(2),
            "userName": text(9),
            "userEmail": text(10),
            "userPhone": text(11),
            "teamId": text(1),
            "teamName": text(14),
            "invited": int(4).map(iso_from_ms).unwrap_or_default(),
            "joined": int(5).map(iso_from_ms).unwrap_or_default(),
            "confirm": confirm,
            "mfa": int(12) == Some(1),
            "userAccessedAt": int(13).map(iso_from_ms).unwrap_or_default(),
            "roles": roles,
        });
        Some(Membership { user_id: text(2), confirm, json })
    }
}

/// What the caller may do with a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// An API key: everything.
    App,
    Owner,
    Member,
}

fn team_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::TeamNotFound, "Team with the requested ID could not be found.")
}

fn unauthorized(message: &str) -> AppwriteError {
    AppwriteError::new(ErrorType::UserUnauthorized, message)
}

/// The `{teamId}` team and the caller's access to it; a team the caller cannot read does not
/// exist for it (404, as Appwrite answers).
async fn path_team(ctx: &Ctx<'_>) -> Result<(Team, Access), AppwriteError> {
    let id = ctx.params.required_text("teamId", 36)?;
    let access = match &ctx.caller {
        Caller::App { .. } => Access::App,
        Caller::User(user) => match user.memberships.iter().find(|m| m.team_id == id) {
            Some(m) if m.roles.iter().any(|r| r == "owner") => Access::Owner,
            Some(_) => Access::Member,
            None => return Err(team_not_found()),
        },
        Caller::Guest => return Err(team_not_found()),
    };
    Ok((load_team(ctx, &id).await?, access))
}

/// The team, if the caller may change it (owners and API keys).
async fn owned_team(ctx: &Ctx<'_>) -> Result<Team, AppwriteError> {
    match path_team(ctx).await? {
        (team, Access::App | Access::Owner) => Ok(team),
        (_, Access::Member) => Err(ErrorType::UserUnauthorized.into()),
    }
}

async fn load_team(ctx: &Ctx<'_>, id: &str) -> Result<Team, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(format!("SELECT {TEAM_COLUMNS} FROM teams WHERE id = ?"), vec![id.into()]))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Team::from_row(r)).ok_or_else(team_not_found)
}

/// `roles`: each a key of at most 36 chars (Appwrite's `Key` rule); duplicates dropped.
fn roles_param(ctx: &Ctx<'_>, required: bool) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(roles) = ctx.params.string_array("roles", 36, &ctx.config.limits)? else {
        return if required { Err(AppwriteError::missing_param("roles")) } else { Ok(None) };
    };
    if let Some(bad) = roles.iter().find(|r| !edgewrite_core::ids::is_valid_custom_id(r)) {
        return Err(AppwriteError::invalid_param(
            "roles",
            &format!("Value must a valid array and {} (\"{bad}\")", edgewrite_core::ids::CUSTOM_ID_RULE),
        ));
    }
    Ok(Some(crate::list::dedup(roles)))
}

/// `POST /teams`: a user creating a team becomes its confirmed owner; a key creates it empty.
pub async fn create(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let id = ctx.params.custom_id("teamId", now, ctx.ports.random)?;
    let name = ctx.params.required_text("name", 128)?;
    let mut roles = roles_param(ctx, false)?.unwrap_or_else(|| vec!["owner".into()]);
    let creator = ctx.caller.user();
    let mut batch = vec![Statement::new(
        "INSERT INTO teams (id, name, total, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        vec![
            id.clone().into(),
            name.into(),
            Value::Integer(i64::from(creator.is_some())),
            Value::Integer(now),
            Value::Integer(now),
        ],
    )];
    if let Some(user) = creator {
        if !roles.iter().any(|r| r == "owner") {
            roles.push("owner".into());
        }
        batch.push(Statement::new(
            "INSERT INTO memberships (id, team_id, user_id, roles, invited, joined, confirm, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
            vec![
                edgewrite_core::ids::unique_id(now, ctx.ports.random).into(),
                id.clone().into(),
                user.user_id.clone().into(),
                json!(roles).to_string().into(),
                Value::Integer(now),
                Value::Integer(now),
                Value::Integer(now),
                Value::Integer(now),
            ],
        ));
    }
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => {
            AppwriteError::new(ErrorType::TeamAlreadyExists, "Team with requested ID already exists.")
        }
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::json(201, &load_team(ctx, &id).await?.to_json()))
}

/// `GET /teams`: a user sees the teams it belongs to; a key sees all.
pub async fn list(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let scope = ctx.caller.user().map(|u| {
        (
            "id IN (SELECT team_id FROM memberships WHERE user_id = ? AND confirm = 1)",
            vec![Value::from(u.user_id.clone())],
        )
    });
    let page = list::page(ctx, &TEAM_SCHEMA, TEAM_COLUMNS, scope).await?;
    let teams: Vec<Json> = page.rows.iter().filter_map(|r| Team::from_row(r)).map(|t| t.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "teams": teams})))
}

/// `GET /teams/{teamId}`
pub async fn get(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &path_team(ctx).await?.0.to_json()))
}

/// `PUT /teams/{teamId}`
pub async fn update_name(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let team = owned_team(ctx).await?;
    let name = ctx.params.required_text("name", 128)?;
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE teams SET name = ?, updated_at = ? WHERE id = ?",
            vec![name.into(), Value::Integer(ctx.ports.clock.now_ms()), team.id.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &load_team(ctx, &team.id).await?.to_json()))
}

/// `DELETE /teams/{teamId}`: the memberships go with it.
pub async fn delete(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let team = owned_team(ctx).await?;
    ctx.ports
        .sql
        .batch(vec![
            Statement::new("DELETE FROM memberships WHERE team_id = ?", vec![team.id.clone().into()]),
            Statement::new("DELETE FROM teams WHERE id = ?", vec![team.id.clone().into()]),
            // Grants to `team:ID` outlive the team: a new team may not take its id.
            crate::store::retire_id("team", &team.id, ctx.ports.clock.now_ms()),
        ])
        .await
        .map_err(AppwriteError::internal)?;
    tracing::info!(team = %team.id, "team deleted");
    Ok(Response::no_content())
}

/// `GET /teams/{teamId}/prefs`
pub async fn get_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    Ok(Response::json(200, &Json::Object(path_team(ctx).await?.0.prefs)))
}

/// `PUT /teams/{teamId}/prefs`
pub async fn update_prefs(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let team = owned_team(ctx).await?;
    let prefs = crate::users::prefs_param(ctx)?;
    ctx.ports
        .sql
        .query(Statement::new(
            "UPDATE teams SET prefs = ?, updated_at = ? WHERE id = ?",
            vec![
                Json::Object(prefs.clone()).to_string().into(),
                Value::Integer(ctx.ports.clock.now_ms()),
                team.id.into(),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(Response::json(200, &Json::Object(prefs)))
}

fn membership_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::MembershipNotFound, "Membership with the requested ID could not be found.")
}

async fn load_membership(ctx: &Ctx<'_>, team_id: &str, id: &str) -> Result<Membership, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {MEMBERSHIP_COLUMNS} FROM {MEMBERSHIP_TABLE} WHERE id = ? AND team_id = ?"),
            vec![id.into(), team_id.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    rows.rows.first().and_then(|r| Membership::from_row(r)).ok_or_else(membership_not_found)
}

fn membership_list(page: edgewrite_core::query::Page) -> Response {
    let memberships: Vec<Json> =
        page.rows.iter().filter_map(|r| Membership::from_row(r)).map(|m| m.json).collect();
    Response::json(200, &json!({"total": page.total, "memberships": memberships}))
}

/// `GET /teams/{teamId}/memberships`: members (invitations included) to members and keys.
pub async fn list_memberships(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (team, _) = path_team(ctx).await?;
    let scope = Some(("team_id = ?", vec![Value::from(team.id)]));
    Ok(membership_list(list::page(ctx, &MEMBERSHIP_SCHEMA, MEMBERSHIP_COLUMNS, scope).await?))
}

/// `GET /users/{userId}/memberships`
pub async fn list_user_memberships(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let user = crate::users::path_user(ctx).await?;
    let scope = Some(("user_id = ?", vec![Value::from(user.id)]));
    Ok(membership_list(list::page(ctx, &MEMBERSHIP_SCHEMA, MEMBERSHIP_COLUMNS, scope).await?))
}

/// `GET /teams/{teamId}/memberships/{membershipId}`
pub async fn get_membership(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (team, _) = path_team(ctx).await?;
    let id = ctx.params.required_text("membershipId", 36)?;
    Ok(Response::json(200, &load_membership(ctx, &team.id, &id).await?.json))
}

/// `POST /teams/{teamId}/memberships`. With an API key the invitee joins at once (a user is
/// created for an unknown email or phone). An owner invites by email: the invitee joins by
/// opening the emailed link (`PATCH …/status`).
pub async fn create_membership(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    abuse::check(
        ctx,
        &abuse::ip_key(ctx, "/v1/teams/{teamId}/memberships"),
        Limit { max: 10, window_secs: 3600 },
    )
    .await?;
    let (team, access) = path_team(ctx).await?;
    if access == Access::Member {
        return Err(unauthorized("User is not allowed to send invitations for this team"));
    }
    let roles = roles_param(ctx, true)?.unwrap_or_default();
    let email = match ctx.params.text("email", 254)?.filter(|e| !e.is_empty()) {
        Some(e) => Some(valid_email("email", &e)?),
        None => None,
    };
    let phone = match ctx.params.text("phone", 16)?.filter(|p| !p.is_empty()) {
        Some(p) => Some(valid_phone("phone", &p)?),
        None => None,
    };
    let user_id = ctx.params.text("userId", 36)?.filter(|u| !u.is_empty());
    let name = ctx.params.text("name", 128)?.unwrap_or_default();
    if email.is_none() && phone.is_none() && user_id.is_none() {
        return Err(AppwriteError::new(
            ErrorType::GeneralArgumentInvalid,
            "At least one of userId, email, or phone is required",
        ));
    }
    let invitation = if access == Access::App {
        None
    } else {
        let url = crate::tokens::redirect_param(ctx, "url")?;
        Some((url, crate::messages::mail_settings(ctx)?))
    };
    let now = ctx.ports.clock.now_ms();
    let mut batch = Vec::new();
    let (invitee_id, invitee_email, invitee_name) =
        match find_invitee(ctx, user_id.as_deref(), email.as_deref(), phone.as_deref()).await? {
            Some(user) => (user.id, user.email, user.name),
            None => {
                let id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
                batch.push(Statement::new(
                    "INSERT INTO users (id, email, phone, name, created_at, updated_at, accessed_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                    vec![
                        id.clone().into(),
                        email.clone().map_or(Value::Null, Value::from),
                        phone.clone().map_or(Value::Null, Value::from),
                        name.clone().into(),
                        Value::Integer(now),
                        Value::Integer(now),
                        Value::Integer(now),
                    ],
                ));
                batch.extend(crate::targets::sync(ctx, &id, "email", None, email.as_deref()));
                batch.extend(crate::targets::sync(ctx, &id, "sms", None, phone.as_deref()));
                (id, email.clone(), name.clone())
            }
        };
    // An owner's invitation travels by email: proof of the address when accepted.
    let invite_to =
        match (&invitation, &invitee_email) {
            (None, _) => None,
            (Some(_), Some(to)) => Some(to.clone()),
            (Some(_), None) => return Err(AppwriteError::new(
                ErrorType::GeneralArgumentInvalid,
                "Invitations from a client are sent by email: give an email, or a userId of a user with one",
            )),
        };
    let membership_id = edgewrite_core::ids::unique_id(now, ctx.ports.random);
    let secret = edgewrite_core::ids::random_hex(32, ctx.ports.random);
    let confirmed = invitation.is_none();
    // Only for a team and a user that still exist when the batch runs: a membership must never
    // outlive them (a later team or user with the same id would inherit it).
    batch.push(
        Statement::new(
            "INSERT INTO memberships (id, team_id, user_id, roles, invited, joined, confirm, secret_hash,
                                      invited_email, created_at, updated_at)
             SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
             WHERE EXISTS (SELECT 1 FROM teams WHERE id = ?) AND EXISTS (SELECT 1 FROM users WHERE id = ?)",
            vec![
                membership_id.clone().into(),
                team.id.clone().into(),
                invitee_id.clone().into(),
                json!(roles).to_string().into(),
                Value::Integer(now),
                if confirmed { Value::Integer(now) } else { Value::Null },
                Value::Integer(i64::from(confirmed)),
                if confirmed { Value::Null } else { Value::Blob(secret_hash(&secret)) },
                invite_to.clone().map_or(Value::Null, Value::from),
                Value::Integer(now),
                Value::Integer(now),
                team.id.clone().into(),
                invitee_id.clone().into(),
            ],
        )
        .expect_changes(1),
    );
    if confirmed {
        batch.push(
            Statement::new(
                "UPDATE teams SET total = total + 1, updated_at = ? WHERE id = ?",
                vec![Value::Integer(now), team.id.clone().into()],
            )
            .expect_changes(1),
        );
    }
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => already_member(),
        StoreError::GuardFailed { .. } => team_not_found(),
        other => AppwriteError::internal(other),
    })?;
    if let (Some((url, settings)), Some(to)) = (&invitation, &invite_to) {
        let link = crate::tokens::with_query(
            url,
            &[
                ("membershipId", &membership_id),
                ("userId", &invitee_id),
                ("secret", &secret),
                ("teamId", &team.id),
                ("teamName", &team.name),
            ],
        );
        let inviter = ctx.caller.user().map(|u| u.email.clone()).unwrap_or_default();
        let template =
            edgewrite_mail::Template::Invitation { url: &link, team: &team.name, inviter: &inviter };
        crate::messages::send_email(ctx, settings, to, &invitee_name, template).await?;
    }
    Ok(Response::json(201, &load_membership(ctx, &team.id, &membership_id).await?.json))
}

fn already_member() -> AppwriteError {
    AppwriteError::new(
        ErrorType::TeamInviteAlreadyExists,
        "User has already been invited or is already a member of this team",
    )
}

/// The user an invitation names: by id (which must agree with a given email or phone), else
/// by email, else by phone; `None` when no such user exists yet.
async fn find_invitee(
    ctx: &Ctx<'_>,
    user_id: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<Option<User>, AppwriteError> {
    let (column, value) = match (user_id, email, phone) {
        (Some(id), _, _) => ("id", id),
        (None, Some(email), _) => ("email", email),
        (None, None, Some(phone)) => ("phone", phone),
        (None, None, None) => return Ok(None),
    };
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {} FROM users WHERE {column} = ?", crate::store::USER_COLUMNS),
            vec![value.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let user = User::first(&rows);
    if user_id.is_some() {
        let user = user.ok_or_else(|| {
            AppwriteError::new(ErrorType::UserNotFound, "User with the requested ID could not be found.")
        })?;
        let mismatch = email.is_some_and(|e| user.email.as_deref() != Some(e))
            || phone.is_some_and(|p| user.phone.as_deref() != Some(p));
        if mismatch {
            return Err(AppwriteError::new(
                ErrorType::UserAlreadyExists,
                "The given email or phone belongs to another user than userId.",
            ));
        }
        return Ok(Some(user));
    }
    Ok(user)
}

/// Holds for a membership row (`memberships` unaliased) whose removal, or loss of the owner role,
/// leaves the team an owner: it is no confirmed owner, or another confirmed owner exists. Part
/// of the write itself, so two owners removing each other at once cannot both succeed.
const LEAVES_AN_OWNER: &str = "(memberships.confirm = 0
    OR NOT EXISTS (SELECT 1 FROM json_each(memberships.roles) WHERE value = 'owner')
    OR EXISTS (SELECT 1 FROM memberships other
               WHERE other.team_id = memberships.team_id AND other.id != memberships.id AND other.confirm = 1
                 AND EXISTS (SELECT 1 FROM json_each(other.roles) WHERE value = 'owner')))";

/// `PATCH /teams/{teamId}/memberships/{membershipId}`: new roles, set by an owner or a key.
pub async fn update_membership(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (team, access) = path_team(ctx).await?;
    if access == Access::Member {
        return Err(unauthorized("User is not allowed to modify roles"));
    }
    let roles = roles_param(ctx, true)?.unwrap_or_default();
    let id = ctx.params.required_text("membershipId", 36)?;
    load_membership(ctx, &team.id, &id).await?;
    let keeps_owner = if roles.iter().any(|r| r == "owner") { "1" } else { LEAVES_AN_OWNER };
    let changed = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("UPDATE memberships SET roles = ?, updated_at = ? WHERE id = ? AND {keeps_owner}"),
            vec![
                json!(roles).to_string().into(),
                Value::Integer(ctx.ports.clock.now_ms()),
                id.clone().into(),
            ],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    if changed.changes == 0 {
        return Err(AppwriteError::new(
            ErrorType::GeneralArgumentInvalid,
            "There must be at least one owner in the team.",
        ));
    }
    Ok(Response::json(200, &load_membership(ctx, &team.id, &id).await?.json))
}

/// `DELETE /teams/{teamId}/memberships/{membershipId}`: by an owner, a key, or the member
/// itself (leaving). The last owner cannot go.
pub async fn delete_membership(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (team, access) = path_team(ctx).await?;
    let id = ctx.params.required_text("membershipId", 36)?;
    let membership = load_membership(ctx, &team.id, &id).await?;
    let own = ctx.caller.user().is_some_and(|u| u.user_id == membership.user_id);
    if access == Access::Member && !own {
        return Err(unauthorized("User is not allowed to remove this membership"));
    }
    let now = ctx.ports.clock.now_ms();
    let mut batch = vec![Statement::new(
        format!("DELETE FROM memberships WHERE id = ? AND {LEAVES_AN_OWNER}"),
        vec![id.into()],
    )
    .expect_changes(1)];
    if membership.confirm {
        batch.push(Statement::new(
            "UPDATE teams SET total = max(total - 1, 0), updated_at = ? WHERE id = ?",
            vec![Value::Integer(now), team.id.into()],
        ));
    }
    // The membership exists (just read): a failed guard means it is the team's last owner.
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::GuardFailed { .. } => AppwriteError::new(
            ErrorType::MembershipDeletionProhibited,
            "You cannot delete the last owner of a team.",
        ),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}

/// `PATCH /teams/{teamId}/memberships/{membershipId}/status`: the invitee accepts with the
/// secret from the invitation, and is signed in if it was not already. The secret is checked
/// before anything else is told about the membership.
pub async fn update_membership_status(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let team_id = ctx.params.required_text("teamId", 36)?;
    let id = ctx.params.required_text("membershipId", 36)?;
    let user_id = ctx.params.required_text("userId", 36)?;
    let secret = ctx.params.required_text("secret", 256)?;
    let team = load_team(ctx, &team_id).await?;
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            "SELECT m.user_id, m.confirm, m.secret_hash, u.status, m.invited, m.invited_email, u.email
             FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.id = ? AND m.team_id = ?",
            vec![id.clone().into(), team.id.clone().into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    let row = rows.rows.first().ok_or_else(membership_not_found)?;
    let stored = match row.get(2) {
        Some(Value::Blob(hash)) => hash.as_slice(),
        _ => &[],
    };
    use subtle::ConstantTimeEq;
    let presented = secret_hash(&secret);
    if stored.len() != presented.len() || !bool::from(stored.ct_eq(&presented)) {
        return Err(AppwriteError::new(ErrorType::TeamInvalidSecret, "Secret key not valid."));
    }
    let invitee = row.first().and_then(Value::as_str).unwrap_or_default();
    let signed_in_as_other = ctx.caller.user().is_some_and(|u| u.user_id != invitee);
    if invitee != user_id || signed_in_as_other {
        return Err(AppwriteError::new(
            ErrorType::TeamInviteMismatch,
            "Invite does not belong to current user.",
        ));
    }
    if row.get(1).and_then(Value::as_i64) == Some(1) {
        return Err(already_confirmed());
    }
    if row.get(3).and_then(Value::as_i64) == Some(0) {
        return Err(AppwriteError::new(ErrorType::UserBlocked, "The current user has been blocked."));
    }
    let now = ctx.ports.clock.now_ms();
    if row.get(4).and_then(Value::as_i64).is_none_or(|invited| now - invited > crate::tokens::LINK_TTL_MS) {
        return Err(AppwriteError::new(ErrorType::TeamInvalidSecret, "The invitation has expired."));
    }
    // The invitation proves the address only if the user still has the one it went to.
    let invited_email = row.get(5).and_then(Value::as_str);
    let proves_email = invited_email.is_some() && invited_email == row.get(6).and_then(Value::as_str);
    let mut batch = vec![
        Statement::new(
            "UPDATE memberships SET confirm = 1, joined = ?, updated_at = ? WHERE id = ? AND confirm = 0",
            vec![Value::Integer(now), Value::Integer(now), id.clone().into()],
        )
        .expect_changes(1),
        Statement::new(
            "UPDATE teams SET total = total + 1, updated_at = ? WHERE id = ?",
            vec![Value::Integer(now), team.id.clone().into()],
        ),
        Statement::new(
            "UPDATE users SET email_verification = 1 WHERE id = ? AND ?",
            vec![user_id.clone().into(), Value::Integer(i64::from(proves_email))],
        ),
    ];
    let session = if matches!(ctx.caller, Caller::Guest) {
        let (statements, session, credential) =
            crate::sessions::new_session(ctx, &user_id, "email", "", &["email"]);
        batch.extend(statements);
        Some((session, credential))
    } else {
        None
    };
    ctx.ports.sql.batch(batch).await.map_err(|e| AppwriteError::from_store(e, already_confirmed))?;
    let mut response = Response::json(200, &load_membership(ctx, &team.id, &id).await?.json);
    if let (Some((session, credential)), Some(project)) = (session, ctx.project) {
        crate::transport::attach(&mut response, ctx.request, project, &credential, session.expire);
    }
    Ok(response)
}

fn already_confirmed() -> AppwriteError {
    AppwriteError::new(ErrorType::MembershipAlreadyConfirmed, "Membership is already confirmed.")
}
