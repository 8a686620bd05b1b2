//! Identities: the provider accounts (OAuth2) linked to users — `/v1/account/identities` for
//! the signed-in user's own, `/v1/users/identities` for servers. Provider tokens stay sealed
//! in the store and are never shown.

use edgewrite_core::events::{account_event, publish};
use edgewrite_core::ports::{Statement, Value};
use edgewrite_core::query::{Field, FieldKind, Schema};
use edgewrite_core::time::iso_from_ms;
use edgewrite_core::{AppwriteError, Ctx, ErrorType, Response};
use serde_json::{json, Value as Json};

use crate::account::current_user;
use crate::list;

/// Columns read for an identity, in this order.
pub const IDENTITY_COLUMNS: &str =
    "id, user_id, provider, provider_uid, provider_email, access_token_expiry, created_at, updated_at";

static FIELDS: &[Field] = &[
    Field { attribute: "$id", column: "id", kind: FieldKind::Text },
    Field { attribute: "$createdAt", column: "created_at", kind: FieldKind::Datetime },
    Field { attribute: "$updatedAt", column: "updated_at", kind: FieldKind::Datetime },
    Field { attribute: "userId", column: "user_id", kind: FieldKind::Text },
    Field { attribute: "provider", column: "provider", kind: FieldKind::Text },
    Field { attribute: "providerUid", column: "provider_uid", kind: FieldKind::Text },
    Field { attribute: "providerEmail", column: "provider_email", kind: FieldKind::Text },
    Field {
        attribute: "providerAccessTokenExpiry",
        column: "access_token_expiry",
        kind: FieldKind::Datetime,
    },
];

/// `search` matches the ids, the provider and its email, as Appwrite's identities index does.
const SCHEMA: Schema<'static> = Schema {
    table: "identities",
    id_column: "id",
    fields: FIELDS,
    search: Some("id || ' ' || user_id || ' ' || provider || ' ' || provider_uid || ' ' || provider_email"),
    fulltext: &[],
};

/// A user's account at a provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: String,
    pub user_id: String,
    pub provider: String,
    pub provider_uid: String,
    pub provider_email: String,
    pub access_token_expiry: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Identity {
    pub fn from_row(row: &[Value]) -> Option<Identity> {
        let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
        let int = |i: usize| row.get(i).and_then(Value::as_i64);
        Some(Identity {
            id: text(0)?,
            user_id: text(1)?,
            provider: text(2)?,
            provider_uid: text(3)?,
            provider_email: text(4).unwrap_or_default(),
            access_token_expiry: int(5),
            created_at: int(6)?,
            updated_at: int(7)?,
        })
    }

    /// The Identity model. The provider's tokens are never shown: they stay sealed.
    pub fn to_json(&self) -> Json {
        json!({
            "$id": self.id,
            "$createdAt": iso_from_ms(self.created_at),
            "$updatedAt": iso_from_ms(self.updated_at),
            "userId": self.user_id,
            "provider": self.provider,
            "providerUid": self.provider_uid,
            "providerEmail": self.provider_email,
            "providerAccessToken": "",
            "providerAccessTokenExpiry": self.access_token_expiry.map(iso_from_ms).unwrap_or_default(),
            "providerRefreshToken": "",
        })
    }
}

fn identity_not_found() -> AppwriteError {
    AppwriteError::new(ErrorType::UserIdentityNotFound, "The identity could not be found.")
}

async fn list_page(ctx: &Ctx<'_>, scope: Option<(&str, Vec<Value>)>) -> Result<Response, AppwriteError> {
    let page = list::page(ctx, &SCHEMA, IDENTITY_COLUMNS, scope).await?;
    let identities: Vec<Json> =
        page.rows.iter().filter_map(|r| Identity::from_row(r)).map(|i| i.to_json()).collect();
    Ok(Response::json(200, &json!({"total": page.total, "identities": identities})))
}

/// Deletes the identity `{identityId}` names, if `owner` (when given) holds it.
async fn delete_one(ctx: &Ctx<'_>, owner: Option<&str>) -> Result<Response, AppwriteError> {
    let id = ctx.params.required_text("identityId", 36)?;
    let mut sql = "DELETE FROM identities WHERE id = ?".to_string();
    let mut params: Vec<Value> = vec![id.into()];
    if let Some(owner) = owner {
        sql.push_str(" AND user_id = ?");
        params.push(owner.into());
    }
    sql.push_str(&format!(" RETURNING {IDENTITY_COLUMNS}"));
    let out =
        ctx.ports.sql.batch(vec![Statement::new(sql, params)]).await.map_err(AppwriteError::internal)?;
    let deleted = out.first().and_then(|r| r.rows.first()).and_then(|row| Identity::from_row(row));
    let identity = deleted.ok_or_else(identity_not_found)?;
    let event =
        account_event(&identity.user_id, Some(("identities", &identity.id)), "delete", identity.to_json());
    publish(ctx, event).await;
    Ok(Response::no_content())
}

/// `GET /account/identities`
pub async fn list_own(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    list_page(ctx, Some(("user_id = ?", vec![user.id.into()]))).await
}

/// `DELETE /account/identities/{identityId}`: only the caller's own.
pub async fn delete_own(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    let (user, _) = current_user(ctx).await?;
    delete_one(ctx, Some(&user.id)).await
}

/// `GET /users/identities`
pub async fn list_all(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    list_page(ctx, None).await
}

/// `DELETE /users/identities/{identityId}`
pub async fn delete_any(ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
    delete_one(ctx, None).await
}

/// The identity of `provider_uid` at `provider`, if any user holds it.
pub async fn by_provider_uid(
    ctx: &Ctx<'_>,
    provider: &str,
    provider_uid: &str,
) -> Result<Option<Identity>, AppwriteError> {
    let rows = ctx
        .ports
        .sql
        .query(Statement::new(
            format!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE provider = ? AND provider_uid = ?"),
            vec![provider.into(), provider_uid.into()],
        ))
        .await
        .map_err(AppwriteError::internal)?;
    Ok(rows.rows.first().and_then(|r| Identity::from_row(r)))
}
