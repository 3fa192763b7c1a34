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
    #[error("{}", describe(.0))]
    InvalidParameters(Vec<(String, String)>),
    #[error(
        "postcode {0} is not known: neither it, its sector nor its district is in the postcode data"
    )]
    UnknownPostcode(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the database is unavailable")]
    Unavailable(#[source] oa_store::StoreError),
    #[error("internal error")]
    Internal(#[source] oa_store::StoreError),
    #[error("internal error")]
    Render(#[source] serde_json::Error),
}

impl ApiError {
    pub fn invalid(parameter: &'static str, problem: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            parameter,
            problem: problem.into(),
        }
    }
}

fn describe(problems: &[(String, String)]) -> String {
    problems
        .iter()
        .map(|(parameter, problem)| {
            if problem == "unknown parameter" {
                format!("unknown parameter `{parameter}`")
            } else {
                format!("parameter `{parameter}`: {problem}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One bad parameter, in a problem's `errors`.
#[derive(Serialize)]
struct ParameterProblem<'a> {
    parameter: &'a str,
    problem: &'a str,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<ParameterProblem<'a>>,
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
            ApiError::InvalidParameters(problems) => (
                StatusCode::BAD_REQUEST,
                "Invalid parameters",
                problems.first().map(|(p, _)| p.as_str()),
            ),
            ApiError::UnknownPostcode(_) => {
                (StatusCode::NOT_FOUND, "Unknown postcode", Some("postcode"))
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found", None),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable: {e}");
                (StatusCode::SERVICE_UNAVAILABLE, "Service unavailable", None)
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "request failed: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", None)
            }
            ApiError::Render(e) => {
                tracing::error!(error = %e, "response did not serialise: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error", None)
            }
        };
        let problem = Problem {
            kind: "about:blank",
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            parameter,
            errors: match &self {
                ApiError::InvalidParameters(problems) => problems
                    .iter()
                    .map(|(parameter, problem)| ParameterProblem { parameter, problem })
                    .collect(),
                _ => Vec::new(),
            },
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
