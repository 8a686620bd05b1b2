//! Appwrite's Avatars API (`/v1/avatars/…`): images made from request parameters. The Worker
//! answers them without project state, but for `initials` of the signed-in user (its name).
//! `image`, `favicon` and `screenshots` are not served yet (README).

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

mod icons;
mod image_out;
mod initials;
mod qr;

use icons::Set;

/// The Avatars capability.
pub struct Avatars;

const fn route(path: &'static str, needs_project: bool, name: &'static str) -> Route {
    Route { method: Method::Get, path, scope: Some("avatars.read"), needs_project, name }
}

static ROUTES: &[Route] = &[
    route("/v1/avatars/qr", false, "avatars.qr"),
    // Without a name, the initials are the signed-in user's: its session is read.
    route("/v1/avatars/initials", true, "avatars.initials"),
    route("/v1/avatars/flags/{code}", false, "avatars.flags"),
    route("/v1/avatars/browsers/{code}", false, "avatars.browsers"),
    route("/v1/avatars/credit-cards/{code}", false, "avatars.credit-cards"),
];

#[async_trait(?Send)]
impl Capability for Avatars {
    fn routes(&self) -> &'static [Route] {
        ROUTES
    }

    async fn handle(&self, route: &Route, ctx: &Ctx<'_>) -> Result<Response, AppwriteError> {
        match route.name {
            "avatars.qr" => qr::serve(ctx),
            "avatars.initials" => initials::serve(ctx),
            "avatars.flags" => icons::serve(ctx, Set::Flags),
            "avatars.browsers" => icons::serve(ctx, Set::Browsers),
            "avatars.credit-cards" => icons::serve(ctx, Set::CreditCards),
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}
