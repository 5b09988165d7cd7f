use granian_serve::{ResponseBody, error_response};
use http::{HeaderValue, Response, StatusCode};

/// Why a request that asked for a websocket cannot have one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// RFC 6455 §4.1: the opening handshake is a GET.
    #[error("websocket handshake must be a GET request")]
    Method,
    /// A missing, repeated or malformed `Sec-WebSocket-Key`.
    #[error("invalid sec-websocket-key")]
    Key,
    /// `Connection` does not list `upgrade`.
    #[error("websocket handshake without connection: upgrade")]
    Connection,
    /// A `Sec-WebSocket-Version` other than 13.
    #[error("unsupported websocket version")]
    Version,
}

impl Error {
    /// The answer to the request: 426 with the version this server speaks for a version
    /// mismatch (RFC 6455 §4.4), 400 for the rest (§4.2.2).
    #[must_use]
    pub fn response(&self) -> Response<ResponseBody> {
        match self {
            Self::Version => {
                let mut response = error_response(StatusCode::UPGRADE_REQUIRED);
                response
                    .headers_mut()
                    .insert("sec-websocket-version", HeaderValue::from_static("13"));
                response
            }
            Self::Method | Self::Key | Self::Connection => error_response(StatusCode::BAD_REQUEST),
        }
    }
}
