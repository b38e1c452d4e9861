//! The clients of the Mercador services' faces are `mercador_core::client`'s
//! (shared with the Python bindings and the C ABI); this module maps their
//! errors to the CLI's exit codes.
//!
//! The base URL is `--url` (the service's root, e.g. `http://b:8780`; the
//! face's path, `/v1/admin`, `/v1/exchange` or `/v1`, is appended) or the
//! face's endpoint in the token's catalog (service types
//! `mercador-publisher`, `mercador-exchange` and `mercador-subscriber`, with
//! the cloud's region and interface).

use mercador_core::client::ClientError;
use mercador_core::keystone::ErrorKind;

use crate::error::{CliError, Kind};

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        match e {
            // An operation an outage interrupted goes on in the background: exit 7.
            ClientError::Service(ref answer) if answer.operation.is_some() => {
                let mut message = e.to_string();
                if let Some(op) = &answer.operation {
                    let what = match &op.subscription {
                        Some(id) if op.binding.is_empty() => format!("subscription {id}"),
                        _ => op.binding.clone(),
                    };
                    message.push_str(&format!(
                        "\n  the {} of {what} continues in the background (state {}, step {}); follow it with {}",
                        op.name, op.state, op.step, op.follow
                    ));
                }
                CliError::new(Kind::Continuing, message)
            }
            // The exit code of the status the service answered.
            ClientError::Service(ref answer) => {
                let mut message = e.to_string();
                if let (Some(dependency), Some(secs)) = (&answer.dependency, answer.retry_after) {
                    message.push_str(&format!("\n  ({dependency} is down; retry after {secs} s)"));
                }
                CliError::new(Kind::from_status(answer.status), message)
            }
            ClientError::Keystone(e) => CliError::from(e),
            ClientError::InvalidInput(_) => CliError::usage(e.to_string()),
            ClientError::NotInCatalog { .. } => CliError::new(Kind::NotFound, e.to_string()),
            _ => {
                let kind = match e.kind() {
                    ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Tls => Kind::Unavailable,
                    _ => Kind::Generic,
                };
                CliError::new(kind, e.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use mercador_core::client::{ClientError, FieldError, ServiceError};
    use reqwest::Method;

    use super::*;

    fn service(status: u16) -> ClientError {
        ClientError::Service(Box::new(ServiceError {
            kind: reqwest::StatusCode::from_u16(status).map(ErrorKind::from_status).unwrap(),
            method: Method::POST,
            url: "http://x/v1/admin/vregions".into(),
            status,
            code: "invalid_request".into(),
            title: "Invalid request".into(),
            message: "invalid request".into(),
            errors: vec![FieldError { field: "region".into(), message: "is empty".into() }],
            request_id: Some("r1".into()),
            dependency: None,
            outage: None,
            retry_after: None,
            operation: None,
        }))
    }

    #[test]
    fn service_errors_name_fields_and_map_to_exit_codes() {
        let e = CliError::from(service(400));
        assert_eq!(e.kind, Kind::Usage);
        assert!(e.message.contains("HTTP 400 invalid_request (Invalid request): invalid request"), "{e}");
        assert!(e.message.contains("\n  - region: is empty"), "{e}");
        assert_eq!(CliError::from(service(404)).kind, Kind::NotFound);
        assert_eq!(CliError::from(service(409)).kind.code(), 4);
        assert_eq!(CliError::from(service(503)).kind.code(), 6);
        assert_eq!(CliError::from(service(403)).kind.code(), 5);
        assert_eq!(CliError::from(service(500)).kind.code(), 1);
    }

    #[test]
    fn an_interrupted_operation_exits_7_and_says_how_to_follow_it() {
        let ClientError::Service(mut answer) = service(503) else { unreachable!() };
        answer.dependency = Some("keystone_b".into());
        answer.operation = Some(mercador_core::client::InterruptedOperation {
            name: "subscribe".into(),
            binding: "lisbon-b".into(),
            subscription: None,
            state: "provisioning".into(),
            step: "remote_subscribe".into(),
            follow: "mercador binding show lisbon-b (GET /v1/bindings/lisbon-b)".into(),
        });
        let e = CliError::from(ClientError::Service(answer));
        assert_eq!(e.kind.code(), 7);
        assert!(e.message.contains("continues in the background (state provisioning, step remote_subscribe)"), "{e}");
        assert!(e.message.contains("mercador binding show lisbon-b"), "{e}");
    }
}
