//! Target `permissions`: permission strings (`edgewrite_core::permissions`), e.g.
//! `read("any")`, `update("user:abc")`, `write("team:x/owner")`.
//!
//! Input: one permission string per line (empty lines skipped).
//!
//! Properties: `parse` never panics; a list it accepts renders back to exactly its lines (the
//! first of each duplicate kept) and parses again to the same permissions; an accepted role is
//! made only of `[A-Za-z0-9._-]`, `:` and `/`, so it cannot close the string it is stored in;
//! `expand` and `allows` agree with what was parsed.

use edgewrite_core::permissions::{allows, expand, parse, render};

use crate::Target;

pub const TARGET: Target = Target {
    name: "permissions",
    run,
    dictionary: &[
        "read",
        "create",
        "update",
        "delete",
        "write",
        "(\"",
        "\")",
        "any",
        "guests",
        "users",
        "users/verified",
        "users/unverified",
        "user:",
        "team:",
        "member:",
        "label:",
        "/owner",
        "/verified",
    ],
    max_len: 4096,
};

const ACTIONS: &[&str] = &["read", "create", "update", "delete", "write"];
const WRITE_MEANS: &[&str] = &["create", "update", "delete"];

fn run(input: &[u8]) {
    let lines: Vec<String> = super::lines(input).into_iter().filter(|l| !l.is_empty()).collect();
    // Each line alone too: one bad line fails a whole list, and most mutations make one.
    for line in &lines {
        check(std::slice::from_ref(line));
    }
    check(&lines);
}

fn check(lines: &[String]) {
    let _ = parse(lines, &["read"]);
    let Ok(parsed) = parse(lines, ACTIONS) else { return };
    let mut unique: Vec<&String> = Vec::new();
    for line in lines {
        if !unique.contains(&line) {
            unique.push(line);
        }
    }
    let rendered = render(&parsed);
    assert_eq!(rendered.iter().collect::<Vec<_>>(), unique, "render(parse(x)) is x without duplicates");
    assert_eq!(parse(&rendered, ACTIONS).ok().as_ref(), Some(&parsed), "parse(render(p)) is p");
    for p in &parsed {
        assert!(ACTIONS.contains(&p.action.as_str()), "action {}", p.action);
        assert!(
            p.role.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b)),
            "role {:?} has a character a stored permission must not",
            p.role
        );
    }
    let expanded = expand(&parsed, WRITE_MEANS);
    for (action, role) in &expanded {
        assert!(allows(lines, action, std::slice::from_ref(role), WRITE_MEANS), "{action} {role}");
        assert_ne!(action, "write", "write is spelled out");
    }
    for p in &parsed {
        let granted = expanded.iter().any(|(a, r)| r == &p.role && (a == &p.action || p.action == "write"));
        assert!(granted, "{p:?} is in the expansion");
    }
}
