use super::*;

const URL: &str = "https://acme.test/verify?userId=u1&secret=s3&expire=2026-01-01";
const URL_IN_HTML: &str = "https://acme.test/verify?userId=u1&amp;secret=s3&amp;expire=2026-01-01";

fn link_in(html: &str) -> bool {
    html.contains(&format!("href=\"{URL_IN_HTML}\"")) && html.contains(&format!(">{URL_IN_HTML}</a>"))
}

#[test]
fn link_messages_carry_the_url_verbatim() {
    let cases = [
        (Template::Verification { url: URL }, "Verify your email for Acme"),
        (Template::Recovery { url: URL }, "Password reset for Acme"),
        (Template::MagicUrl { url: URL, phrase: None }, "Sign in to Acme"),
        (Template::Invitation { url: URL, team: "Core", inviter: "Ann" }, "Invitation to join Core at Acme"),
    ];
    for (template, subject) in cases {
        let mail = render(&template, "Acme", "Jane", "en");
        assert_eq!(mail.subject, subject);
        assert!(mail.text.lines().any(|line| line == URL), "{}", mail.text);
        assert!(link_in(&mail.html), "{}", mail.html);
        assert!(mail.text.starts_with("Hello Jane,\n\n"));
        assert!(mail.text.contains("Acme"));
        assert!(mail.html.contains("<title>") && mail.html.contains("lang=\"en\""));
    }
}

#[test]
fn code_messages_carry_the_code_in_subject_and_both_bodies() {
    let cases = [
        (Template::EmailOtp { code: "123456", phrase: None }, "Your Acme login code: 123456"),
        (Template::MfaChallenge { code: "654321" }, "Your Acme verification code: 654321"),
    ];
    for (template, subject) in cases {
        let mail = render(&template, "Acme", "Jane", "en");
        let code = &subject[subject.len() - 6..];
        assert_eq!(mail.subject, subject);
        assert!(mail.text.lines().any(|line| line == code), "{}", mail.text);
        assert!(mail.html.contains(&format!(">{code}</p>")), "{}", mail.html);
    }
}

#[test]
fn a_phrase_is_shown_only_when_given() {
    let with = render(&Template::EmailOtp { code: "123456", phrase: Some("Brave Owl") }, "Acme", "", "en");
    assert!(with.text.contains("Security phrase: Brave Owl"));
    assert!(with.html.contains("Security phrase: Brave Owl"));
    let with = render(&Template::MagicUrl { url: URL, phrase: Some("Brave Owl") }, "Acme", "", "en");
    assert!(with.text.contains("Brave Owl"));
    let without = render(&Template::MagicUrl { url: URL, phrase: None }, "Acme", "", "en");
    assert!(!without.text.contains("Security phrase"));
}

#[test]
fn user_controlled_values_are_escaped_in_html_only() {
    let evil = "<script>alert('x')</script> & \"quoted\"";
    let url = "https://acme.test/?a=\"><script>alert(1)</script>";
    let templates = [
        Template::Verification { url },
        Template::Recovery { url },
        Template::MagicUrl { url, phrase: Some(evil) },
        Template::EmailOtp { code: "123456", phrase: Some(evil) },
        Template::Invitation { url, team: evil, inviter: evil },
        Template::MfaChallenge { code: "123456" },
    ];
    for template in templates {
        let mail = render(&template, evil, evil, "en");
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(!mail.html.contains("\"quoted\"") && !mail.html.contains("'x'"), "{}", mail.html);
        assert!(mail
            .html
            .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"));
        assert!(mail.text.contains(evil), "the text part is plain: {}", mail.text);
        assert!(!mail.subject.contains("&lt;"), "the subject is plain: {}", mail.subject);
    }
}

#[test]
fn values_are_not_expanded_twice() {
    let mail =
        render(&Template::EmailOtp { code: "123456", phrase: None }, "{code} {user}", "{project}", "en");
    assert_eq!(mail.subject, "Your {code} {user} login code: 123456");
    assert!(mail.text.starts_with("Hello {project},"));
}

#[test]
fn subjects_stay_on_one_line() {
    let mail = render(&Template::Verification { url: URL }, "Acme\r\nBcc: x@y.test", "", "en");
    assert_eq!(mail.subject, "Verify your email for Acme  Bcc: x@y.test");
}

#[test]
fn greeting_without_a_name_and_invitation_without_inviter() {
    let mail = render(&Template::Invitation { url: URL, team: "Core", inviter: "" }, "Acme", "", "en");
    assert!(
        mail.text.starts_with("Hello,\n\nYou are invited to join the team Core at Acme."),
        "{}",
        mail.text
    );
    let mail = render(&Template::Invitation { url: URL, team: "Core", inviter: "Ann" }, "Acme", "", "en");
    assert!(mail.text.contains("Ann invited you to join the team Core at Acme."));
    assert!(mail.html.contains("Thanks,<br>\nThe Acme team"));
}

#[test]
fn unknown_locales_fall_back_to_english() {
    let english = render(&Template::Recovery { url: URL }, "Acme", "Jane", "en");
    for locale in ["en-US", "EN_gb", "xx", "", "fr"] {
        assert_eq!(render(&Template::Recovery { url: URL }, "Acme", "Jane", locale), english, "{locale}");
    }
    assert_eq!(render_sms_code("123456", "Acme", "de"), "123456 is your Acme verification code.");
}

#[test]
fn fill_leaves_unknown_and_unclosed_braces() {
    assert_eq!(fill("{a} {b} {a", &[("a", "1")], false), "1 {b} {a");
    assert_eq!(fill("<{a}>", &[("a", "&")], true), "&lt;&amp;&gt;");
}
