//! The HTTP API link-worker tools query: `/v1/sessions` (near a point, in a window, keyset
//! paged), `/v1/sessions/{id}`, `/v1/feeds` (with data-quality counts and each feed's
//! problems), `/about` (data sources and licences) and `/health`. Errors are problem+json.

mod cursor;
mod feeds;
mod params;
mod problem;
mod routes;

use axum::Router;
use axum::routing::get;

pub use problem::ApiError;
pub use routes::AppState;

/// The API's routes over a store.
pub fn router(store: AppState) -> Router {
    Router::new()
        .route("/health", get(routes::health))
        .route("/v1/sessions", get(routes::sessions))
        .route("/v1/sessions/{id}", get(routes::session))
        .route("/v1/feeds", get(feeds::feeds))
        .route("/v1/feeds/{id}/problems", get(feeds::problems))
        .route("/about", get(routes::about))
        .fallback(routes::not_found)
        .with_state(store)
}
