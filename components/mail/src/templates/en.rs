//! English, the fallback for every locale without its own table.

use super::{Kind, Strings};

pub(super) static STRINGS: Strings = Strings {
    locale: "en",
    hello: "Hello {user},",
    hello_without_name: "Hello,",
    signature: "Thanks,\nThe {project} team",
    phrase: "Security phrase: {phrase}. Check that it matches the one shown where you asked for this email.",
    verification: Kind {
        subject: "Verify your email for {project}",
        intro: "Confirm that this is your email address for {project} by opening this link:",
        outro: "If you did not create an account with {project}, you can ignore this email.",
    },
    recovery: Kind {
        subject: "Password reset for {project}",
        intro: "Someone asked to reset the password of your {project} account. To choose a new password, open this link:",
        outro: "If it was not you, ignore this email: your password stays as it is.",
    },
    magic_url: Kind {
        subject: "Sign in to {project}",
        intro: "Open this link to sign in to {project}:",
        outro: "If you did not try to sign in, you can ignore this email.",
    },
    email_otp: Kind {
        subject: "Your {project} login code: {code}",
        intro: "Enter this code to sign in to {project}:",
        outro: "If you did not try to sign in, you can ignore this email.",
    },
    invitation: Kind {
        subject: "Invitation to join {team} at {project}",
        intro: "{inviter} invited you to join the team {team} at {project}. To accept, open this link:",
        outro: "If you were not expecting this invitation, you can ignore this email.",
    },
    invitation_without_inviter: "You are invited to join the team {team} at {project}. To accept, open this link:",
    mfa_challenge: Kind {
        subject: "Your {project} verification code: {code}",
        intro: "Enter this code to finish signing in to {project}:",
        outro: "If you did not try to sign in, someone may know your password: change it.",
    },
    sms_code: "{code} is your {project} verification code.",
};
