//! h3load: an HTTP/3 load generator on quinn and h3, for benchmarking granian's HTTP/3 the way
//! h2load benchmarks its HTTP/2. `-c` connections each keep `-m` requests in flight for `-d`
//! seconds; the summary reads like h2load's, with latency percentiles added.

use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use http::header::{HeaderName, HeaderValue};
use http::{Method, Request, Uri};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

const USAGE: &str = "\
usage: h3load --url https://HOST:PORT/PATH [options]

  --url URL          the URL to request (https only)
  -c, --clients N    connections to open (default 1)
  -m, --max-streams N
                     requests in flight per connection (default 1)
  -d, --duration S   seconds to run (default 5); in-flight requests then finish
  -t, --threads N    runtime threads (default: available cores)
  --insecure         accept any server certificate
  --cacert FILE      trust the CA certificates in this PEM file
  --post-file FILE   POST the contents of FILE instead of GET
  -H, --header 'name: value'
                     add a request header (repeatable)
  -h, --help         show this text
";

/// What the command line asked for.
struct Options {
    uri: Uri,
    addr: SocketAddr,
    server_name: String,
    clients: usize,
    streams: usize,
    duration: Duration,
    threads: usize,
    insecure: bool,
    cacert: Option<PathBuf>,
    body: Option<Bytes>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut url = None;
    let mut clients = 1;
    let mut streams = 1;
    let mut duration = 5.0;
    let mut threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut insecure = false;
    let mut cacert = None;
    let mut post_file = None;
    let mut headers = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--url" => url = Some(value("--url")?),
            "-c" | "--clients" => clients = number(&value("-c")?, "-c")?,
            "-m" | "--max-streams" => streams = number(&value("-m")?, "-m")?,
            "-t" | "--threads" => threads = number(&value("-t")?, "-t")?,
            "-d" | "--duration" => {
                duration = value("-d")?
                    .parse::<f64>()
                    .ok()
                    .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
                    .ok_or("-d needs a positive number of seconds")?;
            }
            "--insecure" => insecure = true,
            "--cacert" => cacert = Some(PathBuf::from(value("--cacert")?)),
            "--post-file" => post_file = Some(PathBuf::from(value("--post-file")?)),
            "-H" | "--header" => {
                let text = value("-H")?;
                let (name, field) = text.split_once(':').ok_or_else(|| format!("bad header '{text}'"))?;
                let name = HeaderName::try_from(name.trim()).map_err(|err| format!("bad header name: {err}"))?;
                let field = HeaderValue::try_from(field.trim()).map_err(|err| format!("bad header value: {err}"))?;
                headers.push((name, field));
            }
            "-h" | "--help" => return Err(String::new()),
            // h2load's spelling of a positional URL.
            other if !other.starts_with('-') && url.is_none() => url = Some(other.to_owned()),
            other => return Err(format!("unknown option '{other}'")),
        }
    }
    let url = url.ok_or("--url is required")?;
    let uri: Uri = url.parse().map_err(|err| format!("bad url '{url}': {err}"))?;
    if uri.scheme_str() != Some("https") {
        return Err("HTTP/3 needs an https:// url".to_owned());
    }
    let host = uri
        .host()
        .ok_or("the url has no host")?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = uri.port_u16().unwrap_or(443);
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|err| format!("cannot resolve {host}: {err}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !insecure && cacert.is_none() {
        return Err("give --cacert FILE, or --insecure to accept any certificate".to_owned());
    }
    let body = match post_file {
        Some(path) => Some(Bytes::from(
            std::fs::read(&path).map_err(|err| format!("cannot read {}: {err}", path.display()))?,
        )),
        None => None,
    };
    Ok(Options {
        uri,
        addr,
        server_name: host,
        clients,
        streams,
        duration: Duration::from_secs_f64(duration),
        threads,
        insecure,
        cacert,
        body,
        headers,
    })
}

fn number(text: &str, name: &str) -> Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{name} needs a positive whole number"))
}

/// Accepts any certificate: for benchmarking a server with a self-signed one.
#[derive(Debug)]
struct AnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The handshake signature is still checked: only the certificate's issuer is not.
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client_config(options: &Options) -> Result<quinn::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|err| err.to_string())?;
    let mut tls = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if let Some(path) = &options.cacert {
            for cert in CertificateDer::pem_file_iter(path).map_err(|err| format!("{}: {err}", path.display()))? {
                let cert = cert.map_err(|err| format!("{}: {err}", path.display()))?;
                roots.add(cert).map_err(|err| format!("{}: {err}", path.display()))?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|err| err.to_string())?;
    Ok(quinn::ClientConfig::new(Arc::new(quic)))
}

/// What the requests of one stream slot, or of the whole run, came to.
#[derive(Default)]
struct Stats {
    started: u64,
    done: u64,
    errored: u64,
    /// Responses by status class: 1xx..5xx at indices 1..=5.
    status: [u64; 6],
    data: u64,
    /// Request latencies, in microseconds.
    latencies: Vec<u64>,
    /// Connection setup times (QUIC and TLS handshake), in microseconds.
    connects: Vec<u64>,
    connect_errors: u64,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.started += other.started;
        self.done += other.done;
        self.errored += other.errored;
        for (total, count) in self.status.iter_mut().zip(other.status) {
            *total += count;
        }
        self.data += other.data;
        self.latencies.extend(other.latencies);
        self.connects.extend(other.connects);
        self.connect_errors += other.connect_errors;
    }
}

type SendRequest = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// One connection with `options.streams` requests in flight until `deadline`.
async fn run_client(options: Arc<Options>, config: quinn::ClientConfig, deadline: Instant) -> Stats {
    let mut stats = Stats::default();
    let bind: SocketAddr = if options.addr.is_ipv6() {
        "[::]:0".parse().expect("a literal address")
    } else {
        "0.0.0.0:0".parse().expect("a literal address")
    };
    let Ok(mut endpoint) = quinn::Endpoint::client(bind) else {
        stats.connect_errors += 1;
        return stats;
    };
    endpoint.set_default_client_config(config);
    let started = Instant::now();
    let connection = match endpoint.connect(options.addr, &options.server_name) {
        Ok(connecting) => connecting.await,
        Err(err) => {
            eprintln!("connect: {err}");
            stats.connect_errors += 1;
            return stats;
        }
    };
    let connection = match connection {
        Ok(connection) => connection,
        Err(err) => {
            eprintln!("connect: {err}");
            stats.connect_errors += 1;
            return stats;
        }
    };
    let Ok((mut driver, send)) = h3::client::new(h3_quinn::Connection::new(connection.clone())).await else {
        stats.connect_errors += 1;
        return stats;
    };
    stats.connects.push(micros(started.elapsed()));
    let driving = tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    let mut slots = Vec::with_capacity(options.streams);
    for _ in 0..options.streams {
        let send = send.clone();
        let options = Arc::clone(&options);
        let connection = connection.clone();
        slots.push(tokio::spawn(run_slot(options, send, connection, deadline)));
    }
    for slot in slots {
        if let Ok(slot) = slot.await {
            stats.merge(slot);
        }
    }
    connection.close(0x100u32.into(), b"done");
    driving.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    stats
}

/// One request after another on a connection until `deadline`.
async fn run_slot(
    options: Arc<Options>,
    mut send: SendRequest,
    connection: quinn::Connection,
    deadline: Instant,
) -> Stats {
    let mut slot = Stats::default();
    while Instant::now() < deadline && connection.close_reason().is_none() {
        slot.started += 1;
        let started = Instant::now();
        match one_request(&options, &mut send).await {
            Ok((status, data)) => {
                slot.done += 1;
                slot.status[usize::from(status / 100).min(5)] += 1;
                slot.data += data;
                slot.latencies.push(micros(started.elapsed()));
            }
            Err(_) => slot.errored += 1,
        }
    }
    slot
}

async fn one_request(options: &Options, send: &mut SendRequest) -> Result<(u16, u64), h3::error::StreamError> {
    let mut request = Request::builder()
        .method(if options.body.is_some() {
            Method::POST
        } else {
            Method::GET
        })
        .uri(options.uri.clone())
        .body(())
        .expect("a request of parsed parts");
    let headers = request.headers_mut();
    for (name, value) in &options.headers {
        headers.append(name, value.clone());
    }
    if let Some(body) = &options.body {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut stream = send.send_request(request).await?;
    if let Some(body) = &options.body {
        stream.send_data(body.clone()).await?;
    }
    stream.finish().await?;
    let response = stream.recv_response().await?;
    let mut data = 0;
    while let Some(chunk) = stream.recv_data().await? {
        data += chunk.remaining() as u64;
    }
    Ok((response.status().as_u16(), data))
}

fn micros(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// A duration in microseconds as h2load prints one: `850us`, `3.51ms`, `1.20s`.
fn format_micros(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else if us >= 1_000.0 {
        format!("{:.2}ms", us / 1_000.0)
    } else {
        format!("{us:.0}us")
    }
}

/// A byte count with a binary unit, as h2load prints one.
fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0}B")
    } else {
        format!("{value:.2}{}", UNITS[unit])
    }
}

#[expect(clippy::cast_precision_loss, reason = "statistics of counts well below 2^52")]
fn as_f64(value: u64) -> f64 {
    value as f64
}

/// One `min max mean sd +/-sd` row over microsecond samples.
fn spread_row(label: &str, samples: &[u64]) -> String {
    if samples.is_empty() {
        return format!("{label:<18}{:>10}{:>12}{:>12}{:>12}{:>10}", "-", "-", "-", "-", "-");
    }
    let count = as_f64(samples.len() as u64);
    let mean = samples.iter().map(|&s| as_f64(s)).sum::<f64>() / count;
    let variance = samples.iter().map(|&s| (as_f64(s) - mean).powi(2)).sum::<f64>() / count;
    let sd = variance.sqrt();
    let within = samples.iter().filter(|&&s| (as_f64(s) - mean).abs() <= sd).count();
    let min = samples.iter().copied().min().unwrap_or(0);
    let max = samples.iter().copied().max().unwrap_or(0);
    format!(
        "{label:<18}{:>10}{:>12}{:>12}{:>12}{:>9.2}%",
        format_micros(as_f64(min)),
        format_micros(as_f64(max)),
        format_micros(mean),
        format_micros(sd),
        as_f64(within as u64) * 100.0 / count,
    )
}

/// The sample at quantile `q` of sorted `samples` (nearest rank).
fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * as_f64(sorted.len() as u64)).ceil();
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rank within the slice"
    )]
    let index = (rank as usize).clamp(1, sorted.len()) - 1;
    sorted.get(index).copied()
}

fn summary(stats: &mut Stats, elapsed: Duration, options: &Options) -> String {
    let seconds = elapsed.as_secs_f64();
    let succeeded = stats.status[2] + stats.status[3];
    let failed = stats.errored + stats.status[1] + stats.status[4] + stats.status[5];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "finished in {seconds:.2}s, {:.2} req/s, {}/s",
        as_f64(stats.done) / seconds,
        format_bytes(as_f64(stats.data) / seconds)
    );
    let _ = writeln!(
        out,
        "requests: {} total, {} started, {} done, {succeeded} succeeded, {failed} failed, {} errored, 0 timeout",
        stats.started, stats.started, stats.done, stats.errored
    );
    let _ = writeln!(
        out,
        "status codes: {} 2xx, {} 3xx, {} 4xx, {} 5xx",
        stats.status[2], stats.status[3], stats.status[4], stats.status[5]
    );
    let _ = writeln!(
        out,
        "traffic: {} ({}) data",
        format_bytes(as_f64(stats.data)),
        stats.data
    );
    let _ = writeln!(
        out,
        "connections: {} requested, {} connected, {} failed; {} streams each",
        options.clients,
        stats.connects.len(),
        stats.connect_errors,
        options.streams
    );
    let _ = writeln!(
        out,
        "{:<18}{:>10}{:>12}{:>12}{:>12}{:>10}",
        "", "min", "max", "mean", "sd", "+/- sd"
    );
    let _ = writeln!(out, "{}", spread_row("time for request:", &stats.latencies));
    let _ = writeln!(out, "{}", spread_row("time for connect:", &stats.connects));
    stats.latencies.sort_unstable();
    let quantiles = [("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p99.9", 0.999)];
    let parts: Vec<String> = quantiles
        .iter()
        .map(|(name, q)| {
            let value = percentile(&stats.latencies, *q).map_or_else(|| "-".to_owned(), |us| format_micros(as_f64(us)));
            format!("{name} {value}")
        })
        .collect();
    let _ = writeln!(out, "latency: {}", parts.join(", "));
    out
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) if message.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("h3load: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match client_config(&options) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("h3load: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("h3load: {err}");
            return ExitCode::FAILURE;
        }
    };
    let options = Arc::new(options);
    println!(
        "starting benchmark...\nspawning {} threads; {} connections, {} streams each, for {:.2}s\nApplication protocol: h3",
        options.threads,
        options.clients,
        options.streams,
        options.duration.as_secs_f64()
    );
    let (mut stats, elapsed) = runtime.block_on(async {
        let started = Instant::now();
        let deadline = started + options.duration;
        let clients: Vec<_> = (0..options.clients)
            .map(|_| tokio::spawn(run_client(Arc::clone(&options), config.clone(), deadline)))
            .collect();
        let mut stats = Stats::default();
        for client in clients {
            if let Ok(client) = client.await {
                stats.merge(client);
            }
        }
        (stats, started.elapsed())
    });
    print!("\n{}", summary(&mut stats, elapsed, &options));
    if stats.done == 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 0.5), Some(50));
        assert_eq!(percentile(&samples, 0.99), Some(99));
        assert_eq!(percentile(&samples, 1.0), Some(100));
        assert_eq!(percentile(&[7], 0.999), Some(7));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn units() {
        assert_eq!(format_micros(850.0), "850us");
        assert_eq!(format_micros(3_510.0), "3.51ms");
        assert_eq!(format_micros(1_200_000.0), "1.20s");
        assert_eq!(format_bytes(512.0), "512B");
        assert_eq!(format_bytes(1536.0), "1.50KB");
        assert_eq!(format_bytes(5.25 * 1024.0 * 1024.0), "5.25MB");
    }

    #[test]
    fn arguments() {
        let args = [
            "--url",
            "https://127.0.0.1:8443/b",
            "-c",
            "16",
            "-m",
            "16",
            "-d",
            "8",
            "--insecure",
        ];
        let options = parse_args(args.iter().map(|arg| (*arg).to_owned())).unwrap();
        assert_eq!(options.addr, "127.0.0.1:8443".parse().unwrap());
        assert_eq!((options.clients, options.streams), (16, 16));
        assert_eq!(options.duration, Duration::from_secs(8));
        assert!(options.insecure && options.body.is_none());
        let plain = ["--url", "http://127.0.0.1:8443/", "--insecure"];
        assert!(parse_args(plain.iter().map(|arg| (*arg).to_owned())).is_err());
        let unverified = ["--url", "https://127.0.0.1:8443/"];
        assert!(parse_args(unverified.iter().map(|arg| (*arg).to_owned())).is_err());
    }
}
