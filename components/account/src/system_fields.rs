//! `PATCH /v1/users/{userId}/system-fields` and `PATCH /v1/teams/{teamId}/system-fields`
//! (edgewrite only, `migrations.write`): a migrated user's times and its targets' ids and times,
//! a migrated team's times and its memberships' ids and times; `PATCH
//! /v1/project/keys/{keyId}/system-fields`, an API key's times. See
//! [`edgewrite_core::system_fields`].

use edgewrite_core::ports::{Statement, StoreError, Value};
use edgewrite_core::system_fields::{
    assignments, item_assignments, item_text, items, update, SystemField, TIMES,
};
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::Value as Json;

use crate::users::path_user;

const USER_FIELDS: [SystemField; 3] =
    [TIMES[0], TIMES[1], SystemField::optional_time("passwordUpdate", "password_updated_at")];

const MEMBERSHIP_FIELDS: [SystemField; 4] = [
    TIMES[0],
    TIMES[1],
    SystemField::time("invited", "invited"),
    SystemField::optional_time("joined", "joined"),
];

/// A new id for a resource the server named: Appwrite's custom-id rule.
fn new_id(name: &str, id: &str) -> Result<String, AppwriteError> {
    if edgewrite_core::ids::is_valid_custom_id(id) {
        Ok(id.to_string())
    } else {
        Err(AppwriteError::invalid_param(name, "Each \"$id\" must be a valid ID"))
    }
}

/// `PATCH /v1/users/{userId}/system-fields`: `$createdAt` (also the `registration`),
/// `$updatedAt`, `passwordUpdate`, and `targets`: `[{providerType, identifier, $id, $createdAt,
/// $updatedAt}]`, each naming one of the user's targets by type and identifier.
pub async fn restore_user(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let set = assignments(&ctx.params, &USER_FIELDS, &["targets"], now)?;
    let user = path_user(ctx).await?;
    let mut batch = Vec::new();
    for target in items(&ctx.params, "targets")? {
        let provider_type = item_text(&target, "targets", "providerType")?;
        let identifier = item_text(&target, "targets", "identifier")?;
        let key = vec![user.id.clone().into(), provider_type.into(), identifier.into()];
        let found = ctx
            .ports
            .sql
            .query(Statement::new(
                "SELECT id FROM targets WHERE user_id = ? AND provider_type = ? AND identifier = ?",
                key.clone(),
            ))
            .await
            .map_err(AppwriteError::internal)?;
        let Some(current) =
            found.rows.first().and_then(|r| r.first()).and_then(Value::as_str).map(str::to_string)
        else {
            return Err(AppwriteError::new(ErrorType::UserTargetNotFound, "The target could not be found."));
        };
        let mut times =
            item_assignments(&target, &TIMES, &["$id", "providerType", "identifier", "name"], now)?;
        if let Some(id) = target.get("$id").and_then(Json::as_str).filter(|id| *id != current) {
            let id = new_id("targets", id)?;
            times.push(("id", id.clone().into()));
            // What refers to the target by id follows it.
            for table in ["subscribers", "message_targets"] {
                batch.push(Statement::new(
                    format!("UPDATE {table} SET target_id = ? WHERE target_id = ?"),
                    vec![id.clone().into(), current.clone().into()],
                ));
            }
        }
        batch.push(update("targets", times, "id = ?", vec![current.into()]));
    }
    batch.push(update("users", set, "id = ?", vec![user.id.clone().into()]));
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::UserTargetAlreadyExists,
            "A target with the same ID already exists.",
        ),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}

/// `PATCH /v1/teams/{teamId}/system-fields`: `$createdAt`, `$updatedAt`, and `memberships`:
/// `[{userId, $id, $createdAt, $updatedAt, invited, joined}]`, each naming the team's
/// membership of that user.
pub async fn restore_team(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let now = ctx.ports.clock.now_ms();
    let set = assignments(&ctx.params, &TIMES, &["memberships"], now)?;
    let team_id = ctx.params.required_text("teamId", 36)?;
    let exists = ctx
        .ports
        .sql
        .query(Statement::new("SELECT 1 FROM teams WHERE id = ?", vec![team_id.clone().into()]))
        .await
        .map_err(AppwriteError::internal)?;
    if exists.rows.is_empty() {
        return Err(AppwriteError::new(
            ErrorType::TeamNotFound,
            "Team with the requested ID could not be found.",
        ));
    }
    // Only confirmed memberships are restored: a pending invitation on the target keeps the id
    // and time its link names.
    let mut batch = Vec::new();
    for membership in items(&ctx.params, "memberships")? {
        let user_id = item_text(&membership, "memberships", "userId")?;
        let mut fields = item_assignments(&membership, &MEMBERSHIP_FIELDS, &["$id", "userId"], now)?;
        if let Some(id) = membership.get("$id").and_then(Json::as_str) {
            fields.push(("id", new_id("memberships", id)?.into()));
        }
        let key = vec![team_id.clone().into(), user_id.into()];
        let row = "team_id = ? AND user_id = ? AND confirm = 1";
        batch.push(update("memberships", fields, row, key).expect_changes(1));
    }
    batch.push(update("teams", set, "id = ?", vec![team_id.into()]));
    ctx.ports.sql.batch(batch).await.map_err(|e| match e {
        StoreError::GuardFailed { .. } => AppwriteError::new(
            ErrorType::MembershipNotFound,
            "The user has no confirmed membership of this team to restore.",
        ),
        StoreError::Constraint(_) => AppwriteError::new(
            ErrorType::TeamInviteAlreadyExists,
            "Another membership has, or once had, this ID.",
        ),
        other => AppwriteError::internal(other),
    })?;
    Ok(Response::no_content())
}

/// `PATCH /v1/project/keys/{keyId}/system-fields`: a migrated key's `$createdAt` and `$updatedAt`.
pub async fn restore_key(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let key = vec![ctx.params.required_text("keyId", 36)?.into()];
    edgewrite_core::system_fields::restore_row(ctx, &TIMES, "api_keys", "id = ?", key, ErrorType::KeyNotFound)
        .await
}
