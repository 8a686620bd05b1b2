//! Which event patterns a webhook may subscribe to: Appwrite 1.9.6's grammar
//! (`app/config/events.php` and its `Event` validator). A pattern is
//! `type.id[.resource.id[.resource.id]][.action[.attribute]]`, any id may be `*`, and every
//! name must be one the tree below knows. Events of presences and of webhooks themselves are not
//! in the tree: nothing may subscribe to them.

/// A key of the event tree: a resource (whose next part is an id) or an action (whose children
/// are its attributes).
struct Key {
    name: &'static str,
    resource: bool,
    children: &'static [Key],
}

const fn action(name: &'static str) -> Key {
    Key { name, resource: false, children: &[] }
}

const fn action_with(name: &'static str, attributes: &'static [Key]) -> Key {
    Key { name, resource: false, children: attributes }
}

const fn resource(name: &'static str, children: &'static [Key]) -> Key {
    Key { name, resource: true, children }
}

const CRUD: &[Key] = &[action("create"), action("update"), action("delete")];

static TREE: &[Key] = &[
    resource(
        "users",
        &[
            resource("sessions", &[action("create"), action("delete")]),
            resource("recovery", &[action("create"), action("update")]),
            resource("verification", &[action("create"), action("update")]),
            resource("targets", CRUD),
            resource("tokens", &[action("create")]),
            action("create"),
            action("delete"),
            action_with(
                "update",
                &[action("email"), action("name"), action("password"), action("status"), action("prefs")],
            ),
        ],
    ),
    resource(
        "databases",
        &[
            resource(
                "tables",
                &[
                    resource(
                        "rows",
                        &[action("create"), action("update"), action("upsert"), action("delete")],
                    ),
                    resource("indexes", CRUD),
                    resource("columns", CRUD),
                    action("create"),
                    action("update"),
                    action("delete"),
                ],
            ),
            resource(
                "collections",
                &[
                    resource(
                        "documents",
                        &[action("create"), action("update"), action("upsert"), action("delete")],
                    ),
                    resource("indexes", CRUD),
                    resource("attributes", CRUD),
                    action("create"),
                    action("update"),
                    action("delete"),
                ],
            ),
            action("create"),
            action("update"),
            action("delete"),
        ],
    ),
    resource("buckets", &[resource("files", CRUD), action("create"), action("delete"), action("update")]),
    resource(
        "teams",
        &[
            resource(
                "memberships",
                &[action("create"), action("delete"), action_with("update", &[action("status")])],
            ),
            action("create"),
            action("delete"),
            action_with("update", &[action("prefs")]),
        ],
    ),
    resource("sites", &[resource("deployments", CRUD), action("create"), action("delete"), action("update")]),
    resource(
        "functions",
        &[
            resource("deployments", CRUD),
            resource("executions", CRUD),
            action("create"),
            action("delete"),
            action("update"),
        ],
    ),
    resource("messages", &[action("create"), action("update")]),
    resource(
        "topics",
        &[
            action("create"),
            action("update"),
            action("delete"),
            resource("subscribers", &[action("create"), action("delete")]),
        ],
    ),
    resource("providers", CRUD),
    resource("schedules", &[action("create")]),
    resource("rules", CRUD),
    resource("reports", &[action("create"), action("update"), action("delete"), resource("insights", CRUD)]),
];

fn find<'a>(level: &'a [Key], name: &str) -> Option<&'a Key> {
    level.iter().find(|k| k.name == name)
}

/// Whether `pattern` names events edgewrite (and Appwrite) can produce.
pub fn valid(pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('.').collect();
    if !(2..=7).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return false;
    }
    let Some(top) = find(TREE, parts[0]) else { return false };
    // Walk `resource.id` pairs while the next name is a resource and an id follows it.
    let mut level = top.children;
    let mut at = 2;
    while at + 1 < parts.len() {
        match find(level, parts[at]) {
            Some(key) if key.resource => {
                level = key.children;
                at += 2;
            }
            _ => break,
        }
    }
    match &parts[at.min(parts.len())..] {
        [] => true,
        [name] => find(level, name).is_some(),
        [name, attribute] => {
            find(level, name).is_some_and(|key| !key.resource && find(key.children, attribute).is_some())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn patterns_follow_appwrites_grammar() {
        for ok in [
            "users.*.create",
            "users.torsten",
            "users.*.update.email",
            "users.*.update",
            "users.*.sessions",
            "users.*.sessions.*.delete",
            "databases.*.tables.*.rows.*.create",
            "databases.books.tables.chapters",
            "databases.*.collections.*.documents.*",
            "databases.*.collections.*.documents.*.upsert",
            "functions.*",
            "teams.*.memberships.*.update.status",
            "buckets.*.files.*.create",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in [
            "",
            "unknown.*",
            "tables",
            "tables.*.unknown",
            "users.torsten.unknown",
            "users.torsten.delete.email",
            "teams.*.memberships.*.update.unknown",
            "account.unknown",
            "presences.*",
            "webhooks.*.create",
            "users..create",
            "databases.*.collections.*.documents.*.create.x",
            "users.*.sessions.*.create.x.y",
        ] {
            assert!(!valid(bad), "{bad}");
        }
    }
}
