//! The HTTP API link-worker tools query: `/v1/sessions` (near a point, in a window, keyset
//! paged), `/v1/sessions/{id}`, `/v1/feeds` (with data-quality counts and each feed's
//! problems), `/about` (data sources and licences) and `/health`. Errors are problem+json.

mod cursor;
mod feeds;
mod finder;
mod params;
pub mod pathways;
mod problem;
mod routes;

use axum::Router;
use axum::routing::get;

pub use problem::ApiError;
pub use routes::AppState;

/// The API over a store, with the bundled postcode centroids and the shipped pathways.
pub fn router(store: std::sync::Arc<dyn oa_store::Store>) -> Router {
    router_with(AppState::new(store))
}

/// The API over a prepared state (imported postcodes, an area's pathways).
pub fn router_with(state: AppState) -> Router {
    Router::new()
        .route("/", get(finder::finder))
        .route("/health", get(routes::health))
        .route("/v1/sessions", get(routes::sessions))
        .route("/v1/sessions/{id}", get(routes::session))
        .route("/v1/feeds", get(feeds::feeds))
        .route("/v1/feeds/{id}/problems", get(feeds::problems))
        .route("/v1/pathways", get(routes::pathways))
        .route("/about", get(routes::about))
        .fallback(routes::not_found)
        .with_state(state)
}
