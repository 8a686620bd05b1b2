//! Appwrite permissions (`appwrite-api.md` §2.1): `read("any")`, `update("user:ID")`,
//! `write("team:T/owner")` … parsed, checked against the caller's roles, and stored per
//! document so list queries filter by them inside SQL.

use crate::identity::Caller;
use crate::{AppwriteError, ErrorType};

/// One permission: an action and a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub action: String,
    pub role: String,
}

fn invalid(permission: &str) -> AppwriteError {
    AppwriteError::invalid_param(
        "permissions",
        &format!("Permission \"{permission}\" is not allowed. Must be one of: read, create, update, delete, write with a valid role"),
    )
}

/// Whether `role` is one of the role forms Appwrite knows.
fn valid_role(role: &str) -> bool {
    let id_ok = |s: &str| {
        !s.is_empty() && s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let dimension_ok = |s: &str| {
        !s.is_empty() && s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match role.split_once(':') {
        None => matches!(role, "any" | "guests" | "users" | "users/verified" | "users/unverified"),
        Some((kind, rest)) => {
            let (id, dimension) = match rest.split_once('/') {
                Some((id, d)) => (id, Some(d)),
                None => (rest, None),
            };
            match kind {
                "user" => id_ok(id) && dimension.is_none_or(|d| matches!(d, "verified" | "unverified")),
                "team" => id_ok(id) && dimension.is_none_or(dimension_ok),
                "member" | "label" => id_ok(id) && dimension.is_none(),
                _ => false,
            }
        }
    }
}

/// Parses `action("role")`; `allowed` are the actions this resource takes.
pub fn parse(permissions: &[String], allowed: &[&str]) -> Result<Vec<Permission>, AppwriteError> {
    let mut out = Vec::new();
    for p in permissions {
        let (action, rest) = p.split_once('(').ok_or_else(|| invalid(p))?;
        let role = rest
            .strip_suffix(')')
            .and_then(|r| r.strip_prefix('"'))
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| invalid(p))?;
        if !allowed.contains(&action) || !valid_role(role) {
            return Err(invalid(p));
        }
        let permission = Permission { action: action.to_string(), role: role.to_string() };
        if !out.contains(&permission) {
            out.push(permission);
        }
    }
    Ok(out)
}

/// The canonical strings, as stored and shown (`read("any")`).
pub fn render(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(|p| format!("{}(\"{}\")", p.action, p.role)).collect()
}

/// `(action, role)` pairs with `write` spelled out as the actions it stands for.
pub fn expand(permissions: &[Permission], write_means: &[&'static str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in permissions {
        let actions: Vec<&str> =
            if p.action == "write" { write_means.to_vec() } else { vec![p.action.as_str()] };
        for action in actions {
            let pair = (action.to_string(), p.role.clone());
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
    }
    out
}

/// Whether the stored `permissions` give `action` to any of `roles`.
pub fn allows(permissions: &[String], action: &str, roles: &[String], write_means: &[&'static str]) -> bool {
    let Ok(parsed) = parse(permissions, &["read", "create", "update", "delete", "write"]) else {
        return false;
    };
    expand(&parsed, write_means).iter().any(|(a, r)| a == action && roles.contains(r))
}

/// What a signed-in creator gets on what it makes when it names no permissions: read, update
/// and delete for itself. Guests and API keys get none.
pub fn creator_defaults(caller: &Caller) -> Vec<Permission> {
    match caller.user() {
        Some(user) => ["read", "update", "delete"]
            .iter()
            .map(|a| Permission { action: a.to_string(), role: format!("user:{}", user.user_id) })
            .collect(),
        None => Vec::new(),
    }
}

/// A client may only hand out permissions to roles it holds itself (API keys may grant any).
pub fn check_grantable(caller: &Caller, permissions: &[Permission]) -> Result<(), AppwriteError> {
    if matches!(caller, Caller::App { .. }) {
        return Ok(());
    }
    let roles = caller.roles();
    if let Some(p) = permissions.iter().find(|p| !roles.contains(&p.role)) {
        return Err(AppwriteError::new(
            ErrorType::UserUnauthorized,
            format!("Permissions must be one of: ({}); \"{}\" is not", roles.join(", "), p.role),
        ));
    }
    Ok(())
}

/// A list of bare roles (a function's `execute`, a topic's `subscribe`): Appwrite's role strings
/// (`any`, `guests`, `users`, `users/verified`, `user:ID`, `team:ID`, `member:ID`, `label:NAME`),
/// not permission strings.
pub fn roles_param(ctx: &crate::Ctx<'_>, name: &str) -> Result<Option<Vec<String>>, AppwriteError> {
    let Some(roles) = ctx.params.string_array(name, 255, &ctx.config.limits)? else { return Ok(None) };
    for role in &roles {
        let valid = matches!(role.as_str(), "any" | "guests" | "users")
            || ["user:", "team:", "member:", "label:", "users/"]
                .iter()
                .any(|p| role.starts_with(p) && role.len() > p.len());
        if !valid {
            return Err(AppwriteError::invalid_param(
                name,
                &format!("Role \"{role}\" is not allowed. Must be one of: any, guests, users, user:ID, team:ID, member:ID, label:NAME."),
            ));
        }
    }
    Ok(Some(roles))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_roles_and_refuses_garbage() {
        let ok = [
            "read(\"any\")",
            "update(\"user:u1\")",
            "write(\"team:t1/owner\")",
            "delete(\"label:vip\")",
            "read(\"users/verified\")",
        ];
        let parsed = parse(&ok.map(String::from), &["read", "update", "delete", "write"]).unwrap();
        assert_eq!(render(&parsed), ok);
        for bad in [
            "read(any)",
            "read(\"nobody\")",
            "fly(\"any\")",
            "read(\"user:\")",
            "read(\"team:a/b/c\")",
            "read(\"user:x\"'); --\")",
        ] {
            assert!(parse(&[bad.to_string()], &["read"]).is_err(), "{bad}");
        }
        let expanded = expand(&parsed, &["update", "delete"]);
        assert!(expanded.contains(&("delete".into(), "team:t1/owner".into())));
        assert!(allows(&ok.map(String::from), "read", &["any".into()], &["update", "delete"]));
        assert!(!allows(&ok.map(String::from), "create", &["team:t1/owner".into()], &["update", "delete"]));
    }
}
