//! The HTTP API link-worker tools query: `/v1/sessions` (near a point, in a window, keyset
//! paged), `/v1/sessions/{id}`, `/v1/feeds` (with data-quality counts and each feed's
//! problems), `/about` (data sources and licences) and `/health`. Errors are problem+json.

mod brief;
mod coverage;
mod cursor;
mod explain;
mod feeds;
mod finder;
mod metrics;
pub mod openapi;
pub mod params;
pub mod pathways;
mod problem;
mod render;
mod routes;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_scalar::{Scalar, Servable};

pub use problem::ApiError;
pub use routes::AppState;

/// The API over a store, with the bundled postcode centroids and the shipped pathways.
pub fn router(store: std::sync::Arc<dyn oa_store::Store>) -> Router {
    router_with(AppState::new(store))
}

/// The API over a prepared state (imported postcodes, an area's pathways): the documented
/// routes, `/openapi.json` and `/docs` generated from them, and the finder page.
pub fn router_with(state: AppState) -> Router {
    let (api, spec) = api_routes().split_for_parts();
    let spec_json = spec.clone();
    api.route("/", get(finder::finder))
        .route("/coverage", get(coverage::dashboard::dashboard))
        .route(
            "/openapi.json",
            get(move || async move { axum::Json(spec_json) }),
        )
        .merge(Scalar::with_url("/docs", spec))
        .fallback(routes::not_found)
        .with_state(state)
}

/// The OpenAPI document, as `/openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::sessions))
        .routes(routes!(routes::session))
        .routes(routes!(routes::pathways))
        .routes(routes!(feeds::feeds))
        .routes(routes!(feeds::problems))
        .routes(routes!(routes::health))
        .routes(routes!(routes::about))
        .routes(routes!(coverage::summary::coverage))
        .routes(routes!(coverage::access::access))
        .routes(routes!(coverage::providers::providers))
        .routes(routes!(metrics::metrics))
}
