//! Errors as RFC 9457 `application/problem+json`: a bad parameter is named with what was
//! wrong; internal failures are logged and answered without their details.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("parameter `{parameter}`: {problem}")]
    InvalidParameter {
        parameter: &'static str,
        problem: String,
    },
    #[error("unknown parameter `{0}`")]
    UnknownParameter(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] oa_store::StoreError),
    #[error("internal error")]
    Internal(#[source] oa_store::StoreError),
}

impl ApiError {
    pub fn invalid(parameter: &'static str, problem: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            parameter,
            problem: problem.into(),
        }
    }
}

impl From<oa_store::StoreError> for ApiError {
    fn from(error: oa_store::StoreError) -> Self {
        if error.is_transient() {
            ApiError::Unavailable(error)
        } else {
            ApiError::Internal(error)
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, title, parameter) = match &self {
            ApiError::InvalidParameter { parameter, .. } => (
                StatusCode::BAD_REQUEST,
                "Invalid parameter",
                Some(*parameter),
            ),
            ApiError::UnknownParameter(name) => (
                StatusCode::BAD_REQUEST,
                "Unknown parameter",
                Some(name.as_str()),
            ),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found", None),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable: {e}");
                (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable", None)
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", None)
            }
        };
        let problem = Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            parameter,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
