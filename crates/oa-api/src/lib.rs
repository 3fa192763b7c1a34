//! The HTTP API link-worker tools query: `/v1/sessions` (near a point, in a window, keyset
//! paged), `/v1/sessions/{id}`, `/v1/feeds` and `/health`. Errors are problem+json.

mod cursor;
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
        .route("/v1/feeds", get(routes::feeds))
        .fallback(routes::not_found)
        .with_state(store)
}
