use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use granian_pyconv::bytes_from_py;
use granian_serve::{ResponseBody, StreamSender, error_response};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Response, StatusCode};
use hyper::ext::ReasonPhrase;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString, PyTuple};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::{Error, type_name};
use crate::handler::Waits;

/// Chunks a streamed response may hold between the application and the client: a generator
/// runs at most this far ahead of a slow reader.
pub(crate) const STREAM_CAPACITY: usize = 4;

/// A WSGI status line's code and, when it is not the code's standard one, its reason phrase.
/// PEP 3333 asks for `"200 OK"`: three digits, a space, a reason; a bare `"200"` is accepted
/// too. The reason must be ISO-8859-1 without control characters (RFC 9112 §4).
pub fn parse_status(status: &str) -> Result<(StatusCode, Option<Bytes>), Error> {
    let bad = |reason| Error::BadStatus {
        status: status.to_owned(),
        reason,
    };
    let (code, rest) = status.split_at_checked(3).ok_or_else(|| bad("too short"))?;
    if !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad("the code is not three digits"));
    }
    let code = code.parse().ok().and_then(|code| StatusCode::from_u16(code).ok());
    let code = code.ok_or_else(|| bad("the code is outside 100..=999"))?;
    let reason = match rest.strip_prefix(' ') {
        Some(reason) => reason,
        None if rest.is_empty() => return Ok((code, None)),
        None => return Err(bad("no space between the code and the reason")),
    };
    let mut bytes = Vec::with_capacity(reason.len());
    for c in reason.chars() {
        let byte = u8::try_from(c).map_err(|_| bad("the reason is not ISO-8859-1"))?;
        if byte != b'\t' && (byte < 0x20 || byte == 0x7f) {
            return Err(bad("the reason contains a control character"));
        }
        bytes.push(byte);
    }
    if code
        .canonical_reason()
        .is_some_and(|canonical| canonical.as_bytes() == bytes)
    {
        return Ok((code, None));
    }
    Ok((code, Some(Bytes::from(bytes))))
}

/// What `start_response` recorded, waiting for the first body bytes to go out.
#[derive(Debug)]
pub(crate) struct Head {
    status: StatusCode,
    reason: Option<Bytes>,
    headers: HeaderMap,
}

impl Head {
    fn into_response(self, body: ResponseBody, content_length: Option<u64>) -> Response<ResponseBody> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        if let Some(reason) = self.reason {
            // Validated by `parse_status`.
            if let Ok(reason) = ReasonPhrase::try_from(reason) {
                response.extensions_mut().insert(reason);
            }
        }
        // No length on statuses that never carry a body (RFC 9110 §8.6).
        let bodiless = self.status.is_informational()
            || self.status == StatusCode::NO_CONTENT
            || self.status == StatusCode::NOT_MODIFIED;
        if let Some(length) = content_length
            && !bodiless
            && !response.headers().contains_key(CONTENT_LENGTH)
        {
            response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(length));
        }
        response
    }

    /// The `Content-Length` the application declared.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.headers.get(CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
    }
}

fn header_str<'py>(item: &Bound<'py, PyAny>, what: &'static str) -> PyResult<Bound<'py, PyString>> {
    Ok(item
        .cast::<PyString>()
        .map_err(|_| Error::WrongType {
            what,
            expected: "str",
            found: type_name(item),
        })?
        .clone())
}

fn latin1_bytes(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(c).ok()).collect()
}

/// Validate `start_response`'s arguments into a response head.
pub(crate) fn parse_head(status: &Bound<'_, PyAny>, headers: &Bound<'_, PyAny>) -> PyResult<Head> {
    let status = status.cast::<PyString>().map_err(|_| Error::WrongType {
        what: "status",
        expected: "str",
        found: type_name(status),
    })?;
    let (status, reason) = parse_status(status.to_str()?)?;
    let items = if let Ok(list) = headers.cast::<PyList>() {
        list.iter().collect::<Vec<_>>()
    } else if let Ok(tuple) = headers.cast::<PyTuple>() {
        tuple.iter().collect()
    } else {
        return Err(Error::WrongType {
            what: "response headers",
            expected: "a list of (name, value) tuples",
            found: type_name(headers),
        }
        .into());
    };
    let mut map = HeaderMap::with_capacity(items.len() + 1);
    for item in items {
        let pair = item.cast::<PyTuple>().ok().filter(|pair| pair.len() == 2);
        let Some(pair) = pair else {
            return Err(Error::WrongType {
                what: "a response header",
                expected: "a (name, value) tuple",
                found: type_name(&item),
            }
            .into());
        };
        let name = header_str(&pair.get_item(0)?, "a header name")?;
        let value = header_str(&pair.get_item(1)?, "a header value")?;
        let name = name.to_str()?;
        let value = value.to_str()?;
        let bad = |reason| Error::BadHeader {
            name: name.to_owned(),
            reason,
        };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("not a valid header name"))?;
        let value = latin1_bytes(value).ok_or_else(|| bad("the value is not ISO-8859-1"))?;
        let value = HeaderValue::from_bytes(&value).map_err(|_| bad("the value contains a control character"))?;
        if header_name == CONTENT_LENGTH && value.to_str().ok().and_then(|v| v.parse::<u64>().ok()).is_none() {
            return Err(bad("not a non-negative integer").into());
        }
        // The server frames the body itself; an application's Transfer-Encoding (hop-by-hop,
        // which PEP 3333 forbids it to send) would contradict that framing.
        if header_name == TRANSFER_ENCODING {
            continue;
        }
        map.append(header_name, value);
    }
    Ok(Head {
        status,
        reason,
        headers: map,
    })
}

enum Sent {
    /// The head has not gone out.
    Pending(oneshot::Sender<Response<ResponseBody>>),
    /// The head went out; the body streams through this sender.
    Streaming(StreamSender),
    /// The response is complete, failed, or the client left.
    Done,
}

/// One response, shared by `start_response`, `write()` and the thread driving the body. Its
/// lock is never held while Python code runs or while waiting for the client.
pub(crate) struct ResponseState {
    head: Option<Head>,
    sent: Sent,
    /// The client went away.
    gone: bool,
    runtime: Handle,
}

pub(crate) type SharedState = Arc<Mutex<ResponseState>>;

pub(crate) fn lock(state: &SharedState) -> MutexGuard<'_, ResponseState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ResponseState {
    pub(crate) fn new(respond: oneshot::Sender<Response<ResponseBody>>, runtime: Handle) -> SharedState {
        Arc::new(Mutex::new(Self {
            head: None,
            sent: Sent::Pending(respond),
            gone: false,
            runtime,
        }))
    }

    pub(crate) fn headers_sent(&self) -> bool {
        !matches!(self.sent, Sent::Pending(_))
    }

    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    /// Record the head from `start_response`, replacing an earlier one (`exc_info` case).
    pub(crate) fn set_head(&mut self, head: Head) {
        self.head = Some(head);
    }

    /// Send the head with `body` (which then ends the response).
    pub(crate) fn respond(
        &mut self,
        body: ResponseBody,
        content_length: Option<u64>,
        before: &'static str,
    ) -> Result<(), Error> {
        let Sent::Pending(respond) = std::mem::replace(&mut self.sent, Sent::Done) else {
            return Err(Error::Finished);
        };
        let Some(head) = self.head.take() else {
            self.sent = Sent::Pending(respond);
            return Err(Error::NotStarted(before));
        };
        if respond.send(head.into_response(body, content_length)).is_err() {
            self.gone = true;
            return Err(Error::Disconnected);
        }
        Ok(())
    }

    /// The sender of the streamed body, sending the head first if it has not gone out.
    pub(crate) fn stream(&mut self, before: &'static str) -> Result<StreamSender, Error> {
        match &self.sent {
            Sent::Streaming(sender) => return Ok(sender.clone()),
            Sent::Done if self.gone => return Err(Error::Disconnected),
            Sent::Done => return Err(Error::Finished),
            Sent::Pending(_) => {}
        }
        let (sender, body) = ResponseBody::channel(STREAM_CAPACITY);
        self.respond(body, None, before)?;
        self.sent = Sent::Streaming(sender.clone());
        Ok(sender)
    }

    /// The body has no more bytes: an empty response if the head has not gone out yet, the end
    /// of the stream otherwise.
    pub(crate) fn finish(&mut self) -> Result<(), Error> {
        match self.sent {
            Sent::Pending(_) => self.respond(ResponseBody::empty(), None, "the end of the response"),
            Sent::Streaming(_) | Sent::Done => {
                self.sent = Sent::Done;
                Ok(())
            }
        }
    }

    /// The application failed: a 500 if nothing went out yet, otherwise the body is cut short
    /// so the client can tell it is incomplete.
    pub(crate) fn fail(&mut self) {
        match std::mem::replace(&mut self.sent, Sent::Done) {
            Sent::Pending(respond) => {
                if respond.send(error_response(StatusCode::INTERNAL_SERVER_ERROR)).is_err() {
                    self.gone = true;
                }
            }
            Sent::Streaming(sender) => {
                // A full channel gets the abort from a task of the runtime, which this thread
                // (one of the blocking threads) must name.
                let _context = self.runtime.enter();
                sender.abort();
            }
            Sent::Done => {}
        }
    }

    /// The client left mid-response.
    pub(crate) fn client_gone(&mut self) {
        self.gone = true;
        self.sent = Sent::Done;
    }
}

/// Queue `chunk` on a streamed body, waiting without the GIL while the client is behind (the
/// thread then counts as waiting on its client, see [`Waits`]). `false` once the client is
/// gone, or once the protocol layer gave up on a client that took nothing for the send timeout.
pub(crate) fn push(py: Python<'_>, runtime: &Handle, waits: &Waits, sender: &StreamSender, chunk: Bytes) -> bool {
    match sender.try_send(chunk) {
        Ok(()) => true,
        Err(None) => false,
        Err(Some(chunk)) => py.detach(|| {
            let _waiting = waits.begin();
            runtime.block_on(sender.send(chunk))
        }),
    }
}

/// A body item's bytes: `bytes` (shared without a copy when large) or `bytearray`.
pub(crate) fn body_bytes(item: &Bound<'_, PyAny>) -> Result<Bytes, Error> {
    if let Ok(bytes) = item.cast::<PyBytes>() {
        return Ok(bytes_from_py(bytes));
    }
    if let Ok(array) = item.cast::<PyByteArray>() {
        return Ok(Bytes::from(array.to_vec()));
    }
    Err(Error::WrongType {
        what: "response body items",
        expected: "bytes",
        found: type_name(item),
    })
}

/// The `write(data)` callable `start_response` returns (PEP 3333's imperative interface):
/// sends the head if it has not gone out, then `data`, waiting while the client is behind.
#[pyclass(frozen, module = "granian._native", name = "WSGIWrite")]
pub(crate) struct WsgiWrite {
    state: SharedState,
    runtime: Handle,
    waits: Waits,
}

#[pymethods]
impl WsgiWrite {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let chunk = body_bytes(data)?;
        let sender = lock(&self.state).stream("write()")?;
        if chunk.is_empty() || push(py, &self.runtime, &self.waits, &sender, chunk) {
            return Ok(());
        }
        lock(&self.state).client_gone();
        Err(Error::Disconnected.into())
    }
}

/// The `start_response(status, headers, exc_info=None)` callable handed to the application.
#[pyclass(frozen, module = "granian._native", name = "WSGIStartResponse")]
pub(crate) struct StartResponse {
    state: SharedState,
    write: Py<WsgiWrite>,
}

impl StartResponse {
    pub(crate) fn new(py: Python<'_>, state: &SharedState, runtime: Handle, waits: Waits) -> PyResult<Self> {
        let write = Py::new(
            py,
            WsgiWrite {
                state: Arc::clone(state),
                runtime,
                waits,
            },
        )?;
        Ok(Self {
            state: Arc::clone(state),
            write,
        })
    }
}

/// `raise exc_info[1].with_traceback(exc_info[2])`.
fn reraise(exc_info: &Bound<'_, PyAny>) -> PyErr {
    let raised = (|| -> PyResult<PyErr> {
        let value = exc_info.get_item(1)?;
        let value = value.call_method1("with_traceback", (exc_info.get_item(2)?,))?;
        Ok(PyErr::from_value(value))
    })();
    raised.unwrap_or_else(|err| err)
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<WsgiWrite>> {
        let exc_info = exc_info.filter(|exc_info| !exc_info.is_none());
        {
            let state = lock(&self.state);
            match exc_info {
                // PEP 3333: with the headers already out, the application's error can only
                // end the response, so it goes back up to the application.
                Some(exc_info) if state.headers_sent() => {
                    drop(state);
                    return Err(reraise(exc_info));
                }
                None if state.head().is_some() || state.headers_sent() => {
                    return Err(Error::AlreadyStarted.into());
                }
                Some(_) | None => {}
            }
        }
        // Parsed without the lock: iterating the headers may run the application's code.
        let head = parse_head(status, headers)?;
        let mut state = lock(&self.state);
        if state.headers_sent() {
            return Err(Error::AlreadyStarted.into());
        }
        state.set_head(head);
        Ok(self.write.clone_ref(py))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_status_lines() {
        assert_eq!(parse_status("200 OK").unwrap(), (StatusCode::OK, None));
        assert_eq!(parse_status("404 Not Found").unwrap(), (StatusCode::NOT_FOUND, None));
        assert_eq!(parse_status("204").unwrap(), (StatusCode::NO_CONTENT, None));
    }

    #[test]
    fn custom_reasons_are_kept() {
        let (code, reason) = parse_status("299 Fine Enough").unwrap();
        assert_eq!(code.as_u16(), 299);
        assert_eq!(reason.as_deref(), Some(&b"Fine Enough"[..]));
        let (_, reason) = parse_status("200 Okay").unwrap();
        assert_eq!(reason.as_deref(), Some(&b"Okay"[..]));
        let (_, reason) = parse_status("200 ").unwrap();
        assert_eq!(reason.as_deref(), Some(&b""[..]));
    }

    fn started(runtime: &tokio::runtime::Runtime) -> (SharedState, oneshot::Receiver<Response<ResponseBody>>) {
        let (respond, response) = oneshot::channel();
        let state = ResponseState::new(respond, runtime.handle().clone());
        lock(&state).set_head(Head {
            status: StatusCode::OK,
            reason: None,
            headers: HeaderMap::new(),
        });
        (state, response)
    }

    #[test]
    fn failing_a_full_stream_off_the_runtime_aborts_it() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let (state, response) = started(&runtime);
        let sender = lock(&state).stream("the body").unwrap();
        for _ in 0..STREAM_CAPACITY {
            sender.try_send(Bytes::from_static(b"x")).unwrap();
        }
        drop(sender);
        // This thread is not one of the runtime's, like the blocking threads.
        lock(&state).fail();
        let body = response.blocking_recv().unwrap().into_body();
        assert!(runtime.block_on(http_body_util::BodyExt::collect(body)).is_err());
    }

    #[test]
    fn a_list_body_gets_its_length_unless_the_application_set_one() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (state, response) = started(&runtime);
        lock(&state)
            .respond(ResponseBody::full(Bytes::from_static(b"abc")), Some(3), "the end")
            .unwrap();
        let response = response.blocking_recv().unwrap();
        assert_eq!(response.headers()[CONTENT_LENGTH], "3");
        let (state, response) = started(&runtime);
        lock(&state)
            .head
            .as_mut()
            .unwrap()
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from_static("2"));
        lock(&state).respond(ResponseBody::empty(), Some(3), "the end").unwrap();
        assert_eq!(response.blocking_recv().unwrap().headers()[CONTENT_LENGTH], "2");
    }

    #[test]
    fn no_head_means_no_response() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (respond, _response) = oneshot::channel();
        let state = ResponseState::new(respond, runtime.handle().clone());
        assert!(matches!(lock(&state).finish(), Err(Error::NotStarted(_))));
        assert!(matches!(lock(&state).stream("the body"), Err(Error::NotStarted(_))));
    }

    #[test]
    fn bad_status_lines_are_refused() {
        for status in [
            "",
            "20",
            "2OO OK",
            "200OK",
            "099 Low",
            "1000 High",
            "200 O\nK",
            "200 \u{20ac}",
            "+20 OK",
        ] {
            assert!(parse_status(status).is_err(), "{status:?} was accepted");
        }
    }
}
