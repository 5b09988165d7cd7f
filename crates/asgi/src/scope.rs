use granian_pyconv::percent_decode;
use granian_serve::{ConnInfo, Informational, RequestOrigin, Scheme, TlsInfo};
use http::Version;
use http::request::Parts;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pyo3::{Py, intern};

use crate::handler::Shared;

/// The `(host, port)` pairs of a connection (`None` on a Unix socket), built once and reused
/// by its requests.
struct ConnAddresses {
    client: Py<PyAny>,
    server: Py<PyAny>,
}

fn address(py: Python<'_>, addr: Option<std::net::SocketAddr>) -> PyResult<Bound<'_, PyAny>> {
    match addr {
        Some(addr) => Ok((addr.ip().to_string(), addr.port()).into_pyobject(py)?.into_any()),
        None => Ok(py.None().into_bound(py)),
    }
}

/// The ASGI `tls` extension (ASGI TLS extension spec, version 0.2) of a TLS connection.
fn tls_extension<'py>(py: Python<'py>, tls: &TlsInfo) -> PyResult<Bound<'py, PyDict>> {
    let info = PyDict::new(py);
    info.set_item(intern!(py, "server_cert"), tls.server_cert.as_deref())?;
    info.set_item(
        intern!(py, "client_cert_chain"),
        PyList::new(py, &tls.client_cert_chain)?,
    )?;
    info.set_item(intern!(py, "client_cert_name"), tls.client_cert_name.as_deref())?;
    // rustls verified the chain during the handshake: a certificate that failed never gets here.
    info.set_item(intern!(py, "client_cert_error"), py.None())?;
    info.set_item(intern!(py, "tls_version"), tls.version)?;
    info.set_item(intern!(py, "cipher_suite"), tls.cipher_suite)?;
    Ok(info)
}

fn conn_addresses<'a>(py: Python<'_>, conn: &'a ConnInfo) -> PyResult<Option<&'a ConnAddresses>> {
    if conn.interface_cache.get().is_none() {
        let addresses = ConnAddresses {
            client: address(py, conn.peer)?.unbind(),
            server: address(py, conn.local)?.unbind(),
        };
        let _ = conn.interface_cache.set(Box::new(addresses));
    }
    Ok(conn.interface_cache.get().and_then(|cached| cached.downcast_ref()))
}

/// The http scope of one request, with the `extensions` an http response may use:
/// `http.response.pathsend` and `http.response.trailers` always, `http.response.early_hint` when
/// the protocol can send informational responses (HTTP/1.1), `tls` on a TLS connection.
pub(crate) fn http_scope<'py>(
    py: Python<'py>,
    shared: &Shared,
    parts: &Parts,
    conn: &ConnInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let scope = request_scope(py, shared, parts, conn)?;
    let cache = &shared.cache;
    let extensions = if parts.extensions.get::<Informational>().is_some() {
        cache.http_extensions_hints.bind(py).copy()?
    } else {
        cache.http_extensions.bind(py).copy()?
    };
    if let Some(tls) = &conn.tls {
        extensions.set_item(intern!(py, "tls"), tls_extension(py, tls)?)?;
    }
    scope.set_item(intern!(py, "extensions"), extensions)?;
    Ok(scope)
}

/// A fresh `extensions` dict, with `tls` on a TLS connection.
fn tls_extensions<'py>(py: Python<'py>, conn: &ConnInfo) -> PyResult<Bound<'py, PyDict>> {
    let extensions = PyDict::new(py);
    if let Some(tls) = &conn.tls {
        extensions.set_item(intern!(py, "tls"), tls_extension(py, tls)?)?;
    }
    Ok(extensions)
}

/// The keys every scope of a request has: a copy of the server's template dict with the
/// per-request keys set.
fn request_scope<'py>(
    py: Python<'py>,
    shared: &Shared,
    parts: &Parts,
    conn: &ConnInfo,
) -> PyResult<Bound<'py, PyDict>> {
    let cache = &shared.cache;
    let scope = cache.scope_template.bind(py).copy()?;
    let version = match parts.version {
        Version::HTTP_10 => &cache.http_10,
        Version::HTTP_2 => &cache.http_2,
        Version::HTTP_3 => &cache.http_3,
        _ => &cache.http_11,
    };
    scope.set_item(intern!(py, "http_version"), version.bind(py))?;
    scope.set_item(intern!(py, "method"), cache.method(py, parts.method.as_str()))?;
    if conn.scheme != granian_serve::Scheme::Http {
        scope.set_item(intern!(py, "scheme"), conn.scheme.as_str())?;
    }
    let raw_path = parts.uri.path().as_bytes();
    let path = percent_decode(raw_path);
    scope.set_item(intern!(py, "path"), PyString::new(py, &String::from_utf8_lossy(&path)))?;
    scope.set_item(intern!(py, "raw_path"), PyBytes::new(py, raw_path))?;
    scope.set_item(
        intern!(py, "query_string"),
        PyBytes::new(py, parts.uri.query().unwrap_or("").as_bytes()),
    )?;
    scope.set_item(intern!(py, "headers"), headers(py, parts)?)?;
    if let Some(addresses) = conn_addresses(py, conn)? {
        scope.set_item(intern!(py, "client"), addresses.client.bind(py))?;
        scope.set_item(intern!(py, "server"), addresses.server.bind(py))?;
    } else {
        scope.set_item(intern!(py, "client"), address(py, conn.peer)?)?;
        scope.set_item(intern!(py, "server"), address(py, conn.local)?)?;
    }
    if let Some(state) = &shared.state {
        scope.set_item(intern!(py, "state"), state.bind(py).copy()?)?;
    }
    if let Some(origin) = parts.extensions.get::<RequestOrigin>() {
        apply_origin(py, &scope, origin)?;
    }
    Ok(scope)
}

/// What a trusted proxy reported and the URL path prefix, over the connection's own values:
/// `client` (port 0 when the proxy gave none), `scheme` and `root_path`. A prefix the proxy
/// removed goes back in front of `path`, which includes `root_path` in ASGI; `raw_path` stays
/// as received. The forwarded host is left to the `host` header, untouched, as uvicorn does.
fn apply_origin(py: Python<'_>, scope: &Bound<'_, PyDict>, origin: &RequestOrigin) -> PyResult<()> {
    if let Some(client) = &origin.client {
        scope.set_item(intern!(py, "client"), (client.host(), client.port()))?;
    }
    if let Some(scheme) = origin.scheme {
        scope.set_item(intern!(py, "scheme"), scheme.as_str())?;
    }
    if let Some(root_path) = origin.root_path() {
        scope.set_item(intern!(py, "root_path"), &*root_path)?;
    }
    if let Some(prefix) = &origin.forwarded_prefix
        && let Some(path) = scope.get_item(intern!(py, "path"))?
    {
        scope.set_item(intern!(py, "path"), format!("{prefix}{}", path.extract::<String>()?))?;
    }
    Ok(())
}

fn headers<'py>(py: Python<'py>, parts: &Parts) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    // HTTP/2 carries the host as the `:authority` pseudo-header (RFC 9113 §8.3.1), which
    // hyper moves into the URI; applications look for `host`.
    if !parts.headers.contains_key(http::header::HOST)
        && let Some(authority) = parts.uri.authority()
    {
        list.append((
            PyBytes::new(py, b"host"),
            PyBytes::new(py, authority.as_str().as_bytes()),
        ))?;
    }
    for (name, value) in &parts.headers {
        list.append((
            PyBytes::new(py, name.as_str().as_bytes()),
            PyBytes::new(py, value.as_bytes()),
        ))?;
    }
    Ok(list)
}

/// The websocket scope of one request: the http scope's keys, with `type` `websocket`, the
/// `ws`/`wss` scheme, the offered `subprotocols`, and as `extensions` the denial response and,
/// on a TLS connection, `tls`.
pub(crate) fn websocket_scope<'py>(
    py: Python<'py>,
    shared: &Shared,
    parts: &Parts,
    conn: &ConnInfo,
    subprotocols: &[String],
) -> PyResult<Bound<'py, PyDict>> {
    let scope = request_scope(py, shared, parts, conn)?;
    scope.set_item(intern!(py, "type"), intern!(py, "websocket"))?;
    let secure = parts
        .extensions
        .get::<RequestOrigin>()
        .and_then(|origin| origin.scheme)
        .unwrap_or(conn.scheme);
    let scheme = match secure {
        Scheme::Http => intern!(py, "ws"),
        Scheme::Https => intern!(py, "wss"),
    };
    scope.set_item(intern!(py, "scheme"), scheme)?;
    scope.del_item(intern!(py, "method"))?;
    scope.set_item(intern!(py, "subprotocols"), PyList::new(py, subprotocols)?)?;
    let extensions = tls_extensions(py, conn)?;
    extensions.set_item(intern!(py, "websocket.http.response"), PyDict::new(py))?;
    scope.set_item(intern!(py, "extensions"), extensions)?;
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use granian_serve::ClientAddr;

    #[test]
    fn origin_overrides_the_connection() {
        Python::attach(|py| {
            let scope = PyDict::new(py);
            scope.set_item("path", "/app/users").unwrap();
            scope.set_item("root_path", "").unwrap();
            scope.set_item("scheme", "http").unwrap();
            scope.set_item("client", ("127.0.0.1", 5000)).unwrap();
            let origin = RequestOrigin {
                client: Some(ClientAddr::Ip("[2001:db8::7]:0".parse().unwrap())),
                scheme: Some(Scheme::Https),
                host: Some("example.com".into()),
                forwarded_prefix: Some("/edge".into()),
                path_prefix: Some("/app".into()),
            };
            apply_origin(py, &scope, &origin).unwrap();
            let locals = PyDict::new(py);
            locals.set_item("s", scope).unwrap();
            py.run(
                c"
assert s['client'] == ('2001:db8::7', 0), s
assert s['scheme'] == 'https' and s['root_path'] == '/edge/app' and s['path'] == '/edge/app/users', s
",
                None,
                Some(&locals),
            )
            .unwrap();
        });
    }
}
