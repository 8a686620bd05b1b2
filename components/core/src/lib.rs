//! edgewrite's portable core: everything between the runtime adapter and the capability crates
//! (`DESIGN.md` layer 2). It never names Cloudflare or Spin; adapters implement [`ports`] and
//! [`serve::Runtime`], capabilities implement [`router::Capability`].

pub mod abuse;
pub mod config;
pub mod cors;
pub mod error;
pub mod events;
pub mod faults;
pub mod format;
pub mod http;
pub mod identity;
pub mod ids;
pub mod jwt;
pub mod limits;
pub mod log;
pub mod multipart;
pub mod params;
pub mod permissions;
pub mod ports;
pub mod public_url;
pub mod query;
pub mod router;
pub mod serve;
pub mod system_fields;
pub mod time;
pub mod upload;
pub mod upstream;

pub use config::Config;
pub use error::{AppwriteError, ErrorType};
pub use http::{Method, Request, Response};
pub use limits::Limits;
pub use router::{Capability, Ctx, Route};
pub use serve::{serve, ProjectStores, Runtime};
