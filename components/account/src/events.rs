//! Realtime events of the account, users and teams routes (`appwrite-api.md` §9.2–9.3), read
//! off each successful write's route and answer: the payload is the resource the route
//! answered (as in Appwrite), or its ids for a delete. Writes that change who a user is
//! (sessions ended, blocked, labels, verification, memberships) mark the roles whose realtime
//! connections must re-check themselves.

use edgewrite_core::events::{account_event, channels, names, publish};
use edgewrite_core::ports::Event;
use edgewrite_core::{Ctx, Response, Route};
use serde_json::{json, Value as Json};

/// Announces the write `route` answered with `response`.
pub async fn announce(route: &Route, ctx: &Ctx<'_>, response: &Response) {
    if route.method == edgewrite_core::http::Method::Get || !(200..300).contains(&response.status) {
        return;
    }
    let mut payload: Json = serde_json::from_slice(&response.body).unwrap_or_else(|_| json!({}));
    // A session's or token's secret is for the caller that asked, never for other sockets; a
    // user's password hash and its options (server answers carry them) go to no socket.
    if let Some(secret) = payload.get_mut("secret") {
        *secret = json!("");
    }
    if let Some(model) = payload.as_object_mut() {
        for key in ["password", "hash", "hashOptions"] {
            model.remove(key);
        }
    }
    if let Some(event) = event_for(route.name, ctx, payload) {
        publish(ctx, event).await;
    }
}

fn text<'a>(json: &'a Json, key: &str) -> Option<&'a str> {
    json.get(key).and_then(Json::as_str).filter(|s| !s.is_empty())
}

fn event_for(name: &str, ctx: &Ctx<'_>, payload: Json) -> Option<Event> {
    let caller = ctx.caller.user().map(|u| u.user_id.clone());
    // Only path slots name the subject: on `/v1/account/…` a body `userId` is not a route's.
    let param = |key: &str| ctx.params.path(key).map(str::to_string);
    // The user a `/v1/users/{userId}/…` route is about, or the caller on `/v1/account/…`.
    let subject = param("userId").or(caller.clone());
    let own_id = text(&payload, "$id").map(str::to_string);
    let of_payload = text(&payload, "userId").map(str::to_string);
    let user_update = |attribute: &str, refresh: bool| {
        let user = subject.clone()?;
        let event = account_event(&user, None, &format!("update.{attribute}"), payload.clone());
        Some(if refresh { event.refreshing(format!("user:{user}")) } else { event })
    };
    match name {
        // `users.create` and its imported-hash forms (`users.create.bcrypt`, …).
        n if n == "account.create" || n == "users.create" || n.starts_with("users.create.") => {
            Some(account_event(&own_id?, None, "create", payload))
        }
        "users.delete" | "account.delete" => {
            let user = subject?;
            let payload = json!({"$id": user});
            Some(account_event(&user, None, "delete", payload).refreshing(format!("user:{user}")))
        }
        "account.name" | "users.name" => user_update("name", false),
        "account.email" | "users.email" => user_update("email", true),
        "account.phone" | "users.phone" => user_update("phone", false),
        // The user's other sessions ended with the old password.
        "account.password" | "users.password" => user_update("password", true),
        "account.prefs.update" | "users.prefs.update" => user_update("prefs", false),
        "account.status" | "users.status" => user_update("status", true),
        "users.labels" => user_update("labels", true),
        "users.verification" | "users.verification.phone" => user_update("verification", true),
        "mfa.update" | "users.mfa" => user_update("mfa", true),
        // Who may impersonate changes who may list users: live connections re-read it.
        "users.impersonator" => user_update("impersonator", true),
        "sessions.email" | "sessions.anonymous" | "sessions.token" | "users.sessions.create" => {
            let user = of_payload?;
            let event = account_event(&user, Some(("sessions", &own_id?)), "create", payload);
            // A new session may have pushed the oldest past the session limit.
            Some(event.refreshing(format!("user:{user}")))
        }
        "sessions.delete" | "users.sessions.delete" => {
            let user = subject?;
            let session = match param("sessionId").as_deref() {
                Some("current") | None => ctx.caller.user()?.session_id.clone(),
                Some(id) => id.to_string(),
            };
            let payload = json!({"$id": session, "userId": user});
            let event = account_event(&user, Some(("sessions", &session)), "delete", payload);
            Some(event.refreshing(format!("user:{user}")))
        }
        "sessions.delete_all" | "users.sessions.delete_all" => {
            let user = subject?;
            let event = account_event(&user, Some(("sessions", "*")), "delete", json!({"userId": user}));
            Some(event.refreshing(format!("user:{user}")))
        }
        "verification.email.update" | "verification.phone.update" => {
            let user = of_payload?;
            let event = account_event(&user, Some(("verification", &own_id?)), "update", payload);
            Some(event.refreshing(format!("user:{user}")))
        }
        "verification.email.create" | "verification.phone.create" => {
            let user = of_payload?;
            Some(account_event(&user, Some(("verification", &own_id?)), "create", payload))
        }
        "sessions.extend" => {
            let user = of_payload?;
            Some(account_event(&user, Some(("sessions", &own_id?)), "update", payload))
        }
        "account.targets.push.create" | "account.targets.push.update" | "account.targets.push.delete" => {
            let user = caller?;
            let target = param("targetId").or(own_id)?;
            let action = name.rsplit('.').next()?;
            Some(account_event(&user, Some(("targets", &target)), action, payload))
        }
        "recovery.update" => {
            let user = of_payload?;
            let event = account_event(&user, Some(("recovery", &own_id?)), "update", payload);
            Some(event.refreshing(format!("user:{user}")))
        }
        "targets.create" | "targets.update" | "targets.delete" => {
            let user = subject?;
            let target = param("targetId").or(own_id)?;
            let action = name.rsplit('.').next()?;
            Some(account_event(&user, Some(("targets", &target)), action, payload))
        }
        "teams.create" | "teams.update" | "teams.prefs.update" | "teams.delete" => {
            let team = param("teamId").or(own_id)?;
            let action = match name {
                "teams.create" => "create",
                "teams.delete" => "delete",
                "teams.prefs.update" => "update.prefs",
                _ => "update",
            };
            let payload = if action == "delete" { json!({"$id": team}) } else { payload };
            let event = team_event(&team, action, payload);
            Some(match (action, caller) {
                // The creator is now the owner; a deleted team's members lose its roles.
                ("create", Some(user)) => event.refreshing(format!("user:{user}")),
                ("delete", _) => event.refreshing(format!("team:{team}")),
                _ => event,
            })
        }
        "memberships.create" | "memberships.update" | "memberships.status" | "memberships.delete" => {
            let team = param("teamId")?;
            let membership = param("membershipId").or(own_id)?;
            let action = match name {
                "memberships.create" => "create",
                "memberships.delete" => "delete",
                "memberships.status" => "update.status",
                _ => "update",
            };
            let payload =
                if action == "delete" { json!({"$id": membership, "teamId": team}) } else { payload };
            let mut event = membership_event(&team, &membership, action, payload);
            event = event.refreshing(format!("member:{membership}"));
            if let Some(user) = of_payload {
                event.roles.push(format!("user:{user}"));
                event = event.refreshing(format!("user:{user}"));
            }
            Some(event)
        }
        _ => None,
    }
}

fn team_event(team: &str, action: &str, payload: Json) -> Event {
    let bases = ["teams".to_string(), format!("teams.{team}")];
    Event::new(
        names(&[("teams", team)], action),
        channels(&bases, action),
        payload,
        vec![format!("team:{team}")],
    )
}

fn membership_event(team: &str, membership: &str, action: &str, payload: Json) -> Event {
    let bases = ["memberships".to_string(), format!("memberships.{membership}")];
    Event::new(
        names(&[("teams", team), ("memberships", membership)], action),
        channels(&bases, action),
        payload,
        vec![format!("team:{team}")],
    )
}
