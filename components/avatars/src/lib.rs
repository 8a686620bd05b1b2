//! Appwrite's Avatars API (`/v1/avatars/…`): images made from request parameters. The Worker
//! answers them without project state, but for `initials` of the signed-in user (its name) and
//! the remote `image` and `favicon` (the project's cache). `screenshots` answers that the service
//! is disabled (README).

use async_trait::async_trait;
use edgewrite_core::http::Method;
use edgewrite_core::{AppwriteError, Capability, Ctx, ErrorType, Response, Route};

mod icons;
mod image_out;
mod initials;
mod qr;
mod remote;

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
    // Remote images are cached in the project's cache.
    route("/v1/avatars/image", true, "avatars.image"),
    route("/v1/avatars/favicon", true, "avatars.favicon"),
    route("/v1/avatars/screenshots", false, "avatars.screenshots"),
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
            "avatars.image" => remote::image(ctx).await,
            "avatars.favicon" => remote::favicon(ctx).await,
            // A headless browser is not something a Worker or a Spin component runs; Cloudflare's
            // Browser Rendering is reached from JavaScript (puppeteer), not from this binary.
            "avatars.screenshots" => Err(AppwriteError::new(
                ErrorType::GeneralServiceDisabled,
                "Screenshots are not available on this server: it runs no browser.",
            )),
            _ => Err(ErrorType::GeneralRouteNotFound.into()),
        }
    }
}
