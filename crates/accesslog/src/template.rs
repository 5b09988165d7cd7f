use std::fmt::Write as _;

use http::HeaderName;

use crate::Error;

/// One request as the access log sees it once its response ended.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The client's IP address (or the name a trusted proxy gave); `None` on a Unix socket.
    pub addr: Option<String>,
    /// The local time the request arrived, as `2024-01-31 12:00:00 +0100`.
    pub time: String,
    /// Milliseconds from the request's arrival to the end of its response body.
    pub dt_ms: f64,
    /// The response status.
    pub status: u16,
    /// The path of the request target, as received.
    pub path: String,
    /// The query of the request target, without the `?`; empty when there is none.
    pub query_string: String,
    /// The request method.
    pub method: String,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// Response body bytes handed to the connection.
    pub bytes_sent: u64,
    /// The values of [`Format::request_headers`], in order; `None` for an absent header.
    pub request_headers: Vec<Option<String>>,
    /// The values of [`Format::response_headers`], in order; `None` for an absent header.
    pub response_headers: Vec<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    Addr,
    Time,
    DtMs,
    Status,
    Path,
    QueryString,
    Method,
    Scheme,
    Protocol,
    BytesSent,
    RequestHeader(usize),
    ResponseHeader(usize),
}

/// The atoms a format may name, as written between `%(` and `)`, besides the header ones.
const ATOMS: [(&str, Atom); 10] = [
    ("addr", Atom::Addr),
    ("time", Atom::Time),
    ("dt_ms", Atom::DtMs),
    ("status", Atom::Status),
    ("path", Atom::Path),
    ("query_string", Atom::QueryString),
    ("method", Atom::Method),
    ("scheme", Atom::Scheme),
    ("protocol", Atom::Protocol),
    ("bytes_sent", Atom::BytesSent),
];

const REQUEST_HEADER: &str = "header";
const RESPONSE_HEADER: &str = "response_header";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conversion {
    Text,
    Integer,
    Float,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[expect(clippy::struct_excessive_bools, reason = "one field per printf flag")]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
    precision: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(String),
    Field {
        atom: Atom,
        conversion: Conversion,
        spec: Spec,
    },
}

/// An access log format, compiled once: a Python %-style template such as
/// `%(addr)s "%(method)s %(path)s" %(status)d`, or one JSON object per line.
#[derive(Debug, Clone)]
pub struct Format {
    template: Box<str>,
    pieces: Vec<Piece>,
    json: bool,
    uses_time: bool,
    request_headers: Vec<HeaderName>,
    response_headers: Vec<HeaderName>,
}

/// What a piece of a template renders as before padding.
enum Value<'a> {
    Text(&'a str),
    Integer(u64),
    Float(f64),
}

/// Widths and precisions beyond this are refused: a line is not a place for megabytes of
/// padding.
const MAX_WIDTH: usize = 1024;

impl Format {
    /// Compile `template`; with `json`, lines are JSON objects instead, holding every atom and
    /// the header atoms `template` names.
    pub fn new(template: &str, json: bool) -> Result<Self, Error> {
        let mut format = Self {
            template: template.into(),
            pieces: Vec::new(),
            json,
            uses_time: json,
            request_headers: Vec::new(),
            response_headers: Vec::new(),
        };
        format.parse(template)?;
        Ok(format)
    }

    /// The template the format was compiled from.
    #[must_use]
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The request headers the format names, lower-case, each once.
    #[must_use]
    pub fn request_headers(&self) -> &[HeaderName] {
        &self.request_headers
    }

    /// The response headers the format names, lower-case, each once.
    #[must_use]
    pub fn response_headers(&self) -> &[HeaderName] {
        &self.response_headers
    }

    /// Whether lines show the request's time (which costs a clock read and a conversion).
    #[must_use]
    pub fn uses_time(&self) -> bool {
        self.uses_time
    }

    /// Whether lines are JSON objects.
    #[must_use]
    pub fn is_json(&self) -> bool {
        self.json
    }

    fn parse(&mut self, template: &str) -> Result<(), Error> {
        let mut literal = String::new();
        let mut rest = template;
        while let Some(at) = rest.find('%') {
            literal.push_str(&rest[..at]);
            rest = &rest[at + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                literal.push('%');
                rest = after;
                continue;
            }
            let Some(after) = rest.strip_prefix('(') else {
                return Err(Error::Unnamed {
                    at: template.len() - rest.len() - 1,
                });
            };
            let (name, after) = split_name(after).ok_or(Error::Unclosed)?;
            let atom = self.atom(name)?;
            let (spec, conversion, after) = parse_spec(after)?;
            check_conversion(name, atom, conversion)?;
            if !literal.is_empty() {
                self.pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            self.pieces.push(Piece::Field { atom, conversion, spec });
            rest = after;
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            self.pieces.push(Piece::Literal(literal));
        }
        Ok(())
    }

    fn atom(&mut self, name: &str) -> Result<Atom, Error> {
        if let Some((_, atom)) = ATOMS.iter().find(|(known, _)| *known == name) {
            self.uses_time |= *atom == Atom::Time;
            return Ok(*atom);
        }
        for (prefix, response) in [(REQUEST_HEADER, false), (RESPONSE_HEADER, true)] {
            let Some(header) = name
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_prefix('{'))
                .and_then(|rest| rest.strip_suffix('}'))
            else {
                continue;
            };
            let header = HeaderName::from_bytes(header.trim().to_ascii_lowercase().as_bytes())
                .map_err(|_| Error::HeaderName(header.to_owned()))?;
            let list = if response {
                &mut self.response_headers
            } else {
                &mut self.request_headers
            };
            let index = list.iter().position(|known| *known == header).unwrap_or_else(|| {
                list.push(header);
                list.len() - 1
            });
            return Ok(if response {
                Atom::ResponseHeader(index)
            } else {
                Atom::RequestHeader(index)
            });
        }
        Err(Error::UnknownAtom(name.to_owned()))
    }

    /// The line for `record`.
    #[must_use]
    pub fn render(&self, record: &Record) -> String {
        if self.json {
            return self.render_json(record);
        }
        let mut line = String::with_capacity(128);
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => line.push_str(text),
                Piece::Field { atom, conversion, spec } => {
                    let value = match atom {
                        Atom::Addr => Value::Text(record.addr.as_deref().unwrap_or("-")),
                        Atom::Time => Value::Text(&record.time),
                        Atom::DtMs => Value::Float(record.dt_ms),
                        Atom::Status => Value::Integer(u64::from(record.status)),
                        Atom::Path => Value::Text(&record.path),
                        Atom::QueryString => Value::Text(&record.query_string),
                        Atom::Method => Value::Text(&record.method),
                        Atom::Scheme => Value::Text(record.scheme),
                        Atom::Protocol => Value::Text(record.protocol),
                        Atom::BytesSent => Value::Integer(record.bytes_sent),
                        Atom::RequestHeader(index) => Value::Text(header(&record.request_headers, *index)),
                        Atom::ResponseHeader(index) => Value::Text(header(&record.response_headers, *index)),
                    };
                    write_field(&mut line, &value, *conversion, spec);
                }
            }
        }
        line
    }

    fn render_json(&self, record: &Record) -> String {
        let mut line = String::with_capacity(256);
        line.push_str("{\"addr\":");
        match &record.addr {
            Some(addr) => push_json_str(&mut line, addr),
            None => line.push_str("null"),
        }
        line.push_str(",\"time\":");
        push_json_str(&mut line, &record.time);
        line.push_str(",\"dt_ms\":");
        push_json_number(&mut line, record.dt_ms);
        let _ = write!(line, ",\"status\":{}", record.status);
        for (key, value) in [
            ("path", record.path.as_str()),
            ("query_string", &record.query_string),
            ("method", &record.method),
            ("scheme", record.scheme),
            ("protocol", record.protocol),
        ] {
            let _ = write!(line, ",\"{key}\":");
            push_json_str(&mut line, value);
        }
        let _ = write!(line, ",\"bytes_sent\":{}", record.bytes_sent);
        for (key, names, values) in [
            ("request_headers", &self.request_headers, &record.request_headers),
            ("response_headers", &self.response_headers, &record.response_headers),
        ] {
            if names.is_empty() {
                continue;
            }
            let _ = write!(line, ",\"{key}\":{{");
            for (index, name) in names.iter().enumerate() {
                if index > 0 {
                    line.push(',');
                }
                push_json_str(&mut line, name.as_str());
                line.push(':');
                match values.get(index).and_then(Option::as_deref) {
                    Some(value) => push_json_str(&mut line, value),
                    None => line.push_str("null"),
                }
            }
            line.push('}');
        }
        line.push('}');
        line
    }
}

fn header(values: &[Option<String>], index: usize) -> &str {
    values.get(index).and_then(Option::as_deref).unwrap_or("-")
}

fn push_json_str(line: &mut String, value: &str) {
    // Serialising a `str` cannot fail; the fallback keeps the line valid JSON regardless.
    match serde_json::to_string(value) {
        Ok(quoted) => line.push_str(&quoted),
        Err(_) => line.push_str("null"),
    }
}

fn push_json_number(line: &mut String, value: f64) {
    if value.is_finite() {
        let _ = write!(line, "{value:?}");
    } else {
        line.push_str("null");
    }
}

/// The name between `%(` and its `)`, and what follows. Parentheses nest, as in Python.
fn split_name(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (at, byte) in text.bytes().enumerate() {
        match byte {
            b'(' => depth += 1,
            b')' if depth == 0 => return Some((&text[..at], &text[at + 1..])),
            b')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Flags, width, precision and conversion after `%(name)`: `-08.3f`.
fn parse_spec(text: &str) -> Result<(Spec, Conversion, &str), Error> {
    let mut spec = Spec::default();
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(flag) = bytes.get(at) {
        match flag {
            b'-' => spec.left = true,
            b'0' => spec.zero = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => {}
            _ => break,
        }
        at += 1;
    }
    let (width, next) = number(bytes, at)?;
    spec.width = width.unwrap_or(0);
    at = next;
    if bytes.get(at) == Some(&b'.') {
        let (precision, next) = number(bytes, at + 1)?;
        spec.precision = Some(precision.unwrap_or(0));
        at = next;
    }
    if bytes.get(at) == Some(&b'*') {
        return Err(Error::Star);
    }
    // Python accepts and ignores C's length modifiers.
    while matches!(bytes.get(at), Some(b'h' | b'l' | b'L')) {
        at += 1;
    }
    let conversion = match bytes.get(at) {
        None => return Err(Error::Incomplete),
        Some(b's') => Conversion::Text,
        Some(b'd' | b'i' | b'u') => Conversion::Integer,
        Some(b'f' | b'F') => Conversion::Float,
        Some(_) => {
            let other = text[at..].chars().next().unwrap_or('?');
            return Err(Error::Conversion(other));
        }
    };
    Ok((spec, conversion, &text[at + 1..]))
}

fn number(bytes: &[u8], start: usize) -> Result<(Option<usize>, usize), Error> {
    let mut at = start;
    let mut value: Option<usize> = None;
    while let Some(digit) = bytes.get(at).filter(|byte| byte.is_ascii_digit()) {
        let next = value.unwrap_or(0) * 10 + usize::from(digit - b'0');
        if next > MAX_WIDTH {
            return Err(Error::Width { max: MAX_WIDTH });
        }
        value = Some(next);
        at += 1;
    }
    Ok((value, at))
}

/// The common fields (no width, no sign flag) written straight into `line`, without the
/// intermediate buffer padding needs; `false` when `write_field` has to do it.
fn write_plain(line: &mut String, value: &Value<'_>, conversion: Conversion, spec: &Spec) -> bool {
    match (conversion, value) {
        (Conversion::Text, Value::Text(text)) if spec.precision.is_none() => line.push_str(text),
        (Conversion::Text | Conversion::Integer, Value::Integer(number)) => {
            let _ = write!(line, "{number}");
        }
        (Conversion::Float, Value::Float(number)) => return push_fixed(line, *number, spec.precision.unwrap_or(6)),
        _ => return false,
    }
    true
}

/// `number` with `precision` decimals through integer arithmetic, for the values a log line
/// holds (durations): finite, not negative, below a billion, at most six decimals. Ties round to
/// even, as Python's `%f` does; the scaling may differ from its exact rounding in the last digit
/// for values a hair from a tie.
fn push_fixed(line: &mut String, number: f64, precision: usize) -> bool {
    const SCALES: [u64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let Some(&scale) = SCALES.get(precision) else {
        return false;
    };
    if !(0.0..1e9).contains(&number) {
        return false;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "checked above: 0 <= number < 1e9, so the scaled value fits in u64"
    )]
    let scaled = (number * scale as f64).round_ties_even() as u64;
    let _ = write!(line, "{}", scaled / scale);
    if precision > 0 {
        let _ = write!(line, ".{:0precision$}", scaled % scale);
    }
    true
}

fn check_conversion(name: &str, atom: Atom, conversion: Conversion) -> Result<(), Error> {
    let numeric = matches!(atom, Atom::DtMs | Atom::Status | Atom::BytesSent);
    if conversion != Conversion::Text && !numeric {
        return Err(Error::NotANumber(name.to_owned()));
    }
    Ok(())
}

/// Write `value` as Python's `%` would with this conversion and spec.
fn write_field(line: &mut String, value: &Value<'_>, conversion: Conversion, spec: &Spec) {
    if spec.width == 0 && !spec.plus && !spec.space && write_plain(line, value, conversion, spec) {
        return;
    }
    let mut body = String::new();
    let mut negative = false;
    match (conversion, value) {
        (Conversion::Text, Value::Text(text)) => match spec.precision {
            Some(max) => body.extend(text.chars().take(max)),
            None => body.push_str(text),
        },
        (Conversion::Text, Value::Float(number)) => {
            let _ = write!(body, "{number:?}");
        }
        (Conversion::Text | Conversion::Integer, Value::Integer(number)) => {
            let _ = write!(body, "{number}");
        }
        (Conversion::Integer, Value::Float(number)) => {
            negative = number.is_sign_negative() && number.trunc() != 0.0;
            let _ = write!(body, "{:.0}", number.abs().trunc());
        }
        (Conversion::Float, Value::Integer(number)) => {
            #[expect(clippy::cast_precision_loss, reason = "as Python's float() does")]
            let number = *number as f64;
            let _ = write!(body, "{number:.*}", spec.precision.unwrap_or(6));
        }
        (Conversion::Float, Value::Float(number)) => {
            negative = number.is_sign_negative();
            let _ = write!(body, "{:.*}", spec.precision.unwrap_or(6), number.abs());
        }
        // A text atom with a numeric conversion is refused when compiling.
        (Conversion::Integer | Conversion::Float, Value::Text(text)) => body.push_str(text),
    }
    let numeric = conversion != Conversion::Text;
    let sign = match (numeric, negative) {
        (true, true) => "-",
        (true, false) if spec.plus => "+",
        (true, false) if spec.space => " ",
        _ => "",
    };
    let len = sign.len() + body.chars().count();
    let pad = spec.width.saturating_sub(len);
    if spec.left {
        line.push_str(sign);
        line.push_str(&body);
        line.extend(std::iter::repeat_n(' ', pad));
    } else if spec.zero && numeric {
        line.push_str(sign);
        line.extend(std::iter::repeat_n('0', pad));
        line.push_str(&body);
    } else {
        line.extend(std::iter::repeat_n(' ', pad));
        line.push_str(sign);
        line.push_str(&body);
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn fixed_point_matches_float_formatting() {
        for number in [
            0.0,
            0.000_4,
            0.123_456_7,
            1.0,
            12.345_678,
            999.999_9,
            123_456.789_01,
            0.5,
        ] {
            for precision in 0..=6 {
                let mut fast = String::new();
                assert!(push_fixed(&mut fast, number, precision));
                assert_eq!(fast, format!("{number:.precision$}"), "{number} .{precision}");
            }
        }
        let mut out = String::new();
        assert!(!push_fixed(&mut out, -1.0, 3));
        assert!(!push_fixed(&mut out, f64::NAN, 3));
        assert!(!push_fixed(&mut out, 1e10, 3));
        assert!(!push_fixed(&mut out, 1.0, 7));
        assert!(out.is_empty());
    }

    use super::*;

    fn record() -> Record {
        Record {
            addr: Some("127.0.0.1".to_owned()),
            time: "2024-01-31 12:00:00 +0000".to_owned(),
            dt_ms: 1.23456,
            status: 200,
            path: "/a b".to_owned(),
            query_string: "x=1".to_owned(),
            method: "GET".to_owned(),
            scheme: "http",
            protocol: "HTTP/1.1",
            bytes_sent: 42,
            request_headers: vec![Some("curl".to_owned()), None],
            response_headers: vec![Some("text/plain".to_owned())],
        }
    }

    fn render(template: &str) -> String {
        Format::new(template, false).unwrap().render(&record())
    }

    #[test]
    fn granian_default_format_renders_as_granian_does() {
        // `DEFAULT_ACCESS_LOG_FORMAT` in granian/log.py.
        let format = r#"[%(time)s] %(addr)s - "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).3f"#;
        assert_eq!(
            render(format),
            r#"[2024-01-31 12:00:00 +0000] 127.0.0.1 - "GET /a b HTTP/1.1" 200 1.235"#
        );
    }

    #[test]
    fn every_atom() {
        let line = render(
            "%(addr)s %(scheme)s %(query_string)s %(bytes_sent)d %(header{User-Agent})s %(header{x-missing})s \
             %(response_header{Content-Type})s %(dt_ms)s %(status)s",
        );
        assert_eq!(line, "127.0.0.1 http x=1 42 curl - text/plain 1.23456 200");
    }

    #[test]
    fn headers_are_listed_once_lower_case() {
        let format = Format::new("%(header{A})s %(header{a})s %(response_header{B})s", false).unwrap();
        assert_eq!(format.request_headers(), [HeaderName::from_static("a")]);
        assert_eq!(format.response_headers(), [HeaderName::from_static("b")]);
    }

    #[test]
    fn printf_specs() {
        assert_eq!(
            render("%(status)5d|%(status)-5d|%(status)05d|%(status)+d"),
            "  200|200  |00200|+200"
        );
        assert_eq!(
            render("%(dt_ms).1f|%(dt_ms)8.2f|%(dt_ms)d|%(bytes_sent).2f"),
            "1.2|    1.23|1|42.00"
        );
        assert_eq!(render("%(method).2s|%(method)5s|%(method)-5s|"), "GE|  GET|GET  |");
        assert_eq!(render("100%% %(status)ld"), "100% 200");
    }

    #[test]
    fn no_time_no_clock() {
        assert!(!Format::new("%(status)d", false).unwrap().uses_time());
        assert!(Format::new("%(time)s", false).unwrap().uses_time());
        assert!(Format::new("", true).unwrap().uses_time());
    }

    #[test]
    fn errors() {
        let error = |template: &str| Format::new(template, false).unwrap_err().to_string();
        assert_eq!(error("%(nope)s"), "unknown atom `nope` in the access log format");
        assert!(error("%(status)").contains("incomplete"));
        assert!(error("%(status").contains("unclosed"));
        assert!(error("%s").contains("name"));
        assert!(error("%(status)x").contains("`x`"));
        assert!(error("%(path)d").contains("not a number"));
        assert!(error("%(header{bad name})s").contains("header name"));
        assert!(error("%(status)*d").contains('*'));
        assert!(error("%(status)99999d").contains("1024"));
    }

    #[test]
    fn json_holds_every_atom() {
        let format = Format::new(
            "%(header{User-Agent})s %(header{X})s %(response_header{content-type})s",
            true,
        )
        .unwrap();
        let line = format.render(&record());
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["addr"], "127.0.0.1");
        assert_eq!(value["status"], 200);
        assert_eq!(value["dt_ms"], 1.23456);
        assert_eq!(value["bytes_sent"], 42);
        assert_eq!(value["path"], "/a b");
        assert_eq!(value["request_headers"]["user-agent"], "curl");
        assert!(value["request_headers"]["x"].is_null());
        assert_eq!(value["response_headers"]["content-type"], "text/plain");
    }

    #[test]
    fn json_escapes_and_unix_socket() {
        let format = Format::new("", true).unwrap();
        let mut record = record();
        record.addr = None;
        record.path = "/\"\n\u{1}".to_owned();
        let value: serde_json::Value = serde_json::from_str(&format.render(&record)).unwrap();
        assert!(value["addr"].is_null());
        assert_eq!(value["path"], "/\"\n\u{1}");
        assert!(value.get("request_headers").is_none());
    }
}
