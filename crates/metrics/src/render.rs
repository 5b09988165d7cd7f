use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::Region;
use crate::region::{
    BLOCKING_THREADS, BYTES_RECEIVED, BYTES_SENT, CONNECTIONS_ACTIVE, CONNECTIONS_ERR, CONNECTIONS_HANDLED,
    FIRST_COUNTER, FIRST_STATUS, HEADER_RESPAWNS_ERROR, HEADER_RESPAWNS_LIFETIME, HEADER_RESPAWNS_MEMORY,
    HEADER_SPAWNS, LATENCY, LATENCY_BUCKETS, LATENCY_SUM_US, LATENCY_WORDS, OWNER, REQUESTS_HANDLED, SLOT_WORDS,
    STARTED_MS, STATIC_ERR, STATIC_HANDLED, STATUS, STATUS_WORDS, now_ms,
};

/// One worker number's view: the counters of its exited and live processes summed, the gauges
/// of its live ones.
struct Worker {
    words: Vec<u64>,
    active: i64,
    blocking_threads: u64,
    /// When its newest live process started, in milliseconds since the Unix epoch.
    started_ms: Option<u64>,
}

/// The per-worker series, in the order they are written: name, type, help, word.
const WORKER_SERIES: [(&str, &str, &str, Series); 9] = [
    (
        "granian_worker_lifetime",
        "counter",
        "Seconds since the worker's current process started.",
        Series::Lifetime,
    ),
    (
        "granian_connections_active",
        "gauge",
        "Connections open.",
        Series::Active,
    ),
    (
        "granian_connections_handled",
        "counter",
        "Connections accepted.",
        Series::Word(CONNECTIONS_HANDLED),
    ),
    (
        "granian_connections_err",
        "counter",
        "Connections that failed before serving a request (TLS handshake errors and timeouts).",
        Series::Word(CONNECTIONS_ERR),
    ),
    (
        "granian_requests_handled",
        "counter",
        "Requests received.",
        Series::Word(REQUESTS_HANDLED),
    ),
    (
        "granian_static_requests_handled",
        "counter",
        "Requests answered with a static file.",
        Series::Word(STATIC_HANDLED),
    ),
    (
        "granian_static_requests_err",
        "counter",
        "Requests for the static files route that found no file.",
        Series::Word(STATIC_ERR),
    ),
    (
        "granian_blocking_threads",
        "gauge",
        "Threads running the application (WSGI blocking threads; 1 for ASGI and RSGI).",
        Series::Blocking,
    ),
    (
        "granian_request_body_bytes_total",
        "counter",
        "Request body bytes received.",
        Series::Word(BYTES_RECEIVED),
    ),
];

#[derive(Clone, Copy)]
enum Series {
    Word(usize),
    Active,
    Blocking,
    Lifetime,
}

impl Region {
    /// Every metric in the Prometheus text exposition format (version 0.0.4), per worker
    /// number (`worker="N"`). Master only: it sums the slots as they are now.
    #[must_use]
    pub fn render(&self) -> String {
        let workers = {
            let _guard = self.locked();
            self.snapshot()
        };
        let now = now_ms();
        let mut out = String::with_capacity(8192);
        for (name, help, word) in [
            ("granian_workers_spawns", "Worker processes started.", HEADER_SPAWNS),
            (
                "granian_workers_respawns_for_err",
                "Workers started again after an unexpected exit.",
                HEADER_RESPAWNS_ERROR,
            ),
            (
                "granian_workers_respawns_for_lifetime",
                "Workers replaced on reaching their lifetime.",
                HEADER_RESPAWNS_LIFETIME,
            ),
            (
                "granian_workers_respawns_for_rss",
                "Workers replaced for using too much memory.",
                HEADER_RESPAWNS_MEMORY,
            ),
        ] {
            head(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", self.header(word).load(Ordering::Relaxed));
        }
        for (name, kind, help, series) in WORKER_SERIES {
            head(&mut out, name, kind, help);
            for (index, worker) in workers.iter().enumerate() {
                let id = index + 1;
                let _ = match series {
                    Series::Word(word) => writeln!(out, "{name}{{worker=\"{id}\"}} {}", worker.words[word]),
                    Series::Active => writeln!(out, "{name}{{worker=\"{id}\"}} {}", worker.active.max(0)),
                    Series::Blocking => writeln!(out, "{name}{{worker=\"{id}\"}} {}", worker.blocking_threads),
                    Series::Lifetime => writeln!(
                        out,
                        "{name}{{worker=\"{id}\"}} {}",
                        worker
                            .started_ms
                            .map_or(0, |started| now.saturating_sub(started) / 1000)
                    ),
                };
            }
        }
        let name = "granian_response_body_bytes_total";
        head(&mut out, name, "counter", "Response body bytes sent.");
        for (index, worker) in workers.iter().enumerate() {
            let _ = writeln!(out, "{name}{{worker=\"{}\"}} {}", index + 1, worker.words[BYTES_SENT]);
        }
        let name = "granian_responses_total";
        head(&mut out, name, "counter", "Responses, by status code.");
        for (index, worker) in workers.iter().enumerate() {
            for (code, count) in (FIRST_STATUS..).zip(&worker.words[STATUS..STATUS + STATUS_WORDS]) {
                if *count != 0 {
                    let _ = writeln!(out, "{name}{{worker=\"{}\",code=\"{code}\"}} {count}", index + 1);
                }
            }
        }
        let name = "granian_request_duration_seconds";
        head(
            &mut out,
            name,
            "histogram",
            "Time from receiving a request to its response head.",
        );
        for (index, worker) in workers.iter().enumerate() {
            let id = index + 1;
            let buckets = &worker.words[LATENCY..LATENCY + LATENCY_WORDS];
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(buckets) {
                cumulative += count;
                let _ = writeln!(out, "{name}_bucket{{worker=\"{id}\",le=\"{bound:?}\"}} {cumulative}");
            }
            cumulative += buckets[LATENCY_WORDS - 1];
            let _ = writeln!(out, "{name}_bucket{{worker=\"{id}\",le=\"+Inf\"}} {cumulative}");
            #[expect(
                clippy::cast_precision_loss,
                reason = "a sum in seconds, precise to the microsecond for years"
            )]
            let seconds = worker.words[LATENCY_SUM_US] as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{worker=\"{id}\"}} {seconds:?}");
            let _ = writeln!(out, "{name}_count{{worker=\"{id}\"}} {cumulative}");
        }
        out
    }

    /// Read every worker number's totals and live slots.
    fn snapshot(&self) -> Vec<Worker> {
        let mut workers: Vec<Worker> = (1..=self.workers())
            .map(|worker| {
                let start = Self::retired(worker);
                Worker {
                    words: (0..SLOT_WORDS)
                        .map(|offset| {
                            if offset < FIRST_COUNTER {
                                0
                            } else {
                                self.word(start + offset).load(Ordering::Relaxed)
                            }
                        })
                        .collect(),
                    active: 0,
                    blocking_threads: 0,
                    started_ms: None,
                }
            })
            .collect();
        for slot in 0..self.slots() {
            let start = self.live(slot);
            let owner = self.word(start + OWNER).load(Ordering::Acquire);
            let Some(worker) = usize::try_from(owner)
                .ok()
                .and_then(|owner| owner.checked_sub(1))
                .and_then(|index| workers.get_mut(index))
            else {
                continue;
            };
            for offset in FIRST_COUNTER..SLOT_WORDS {
                worker.words[offset] += self.word(start + offset).load(Ordering::Relaxed);
            }
            #[expect(clippy::cast_possible_wrap, reason = "the gauge is stored in two's complement")]
            let active = self.word(start + CONNECTIONS_ACTIVE).load(Ordering::Relaxed) as i64;
            worker.active += active;
            let started = self.word(start + STARTED_MS).load(Ordering::Relaxed);
            if worker.started_ms.is_none_or(|newest| started >= newest) {
                worker.started_ms = Some(started);
                worker.blocking_threads = self.word(start + BLOCKING_THREADS).load(Ordering::Relaxed);
            }
        }
        workers
    }
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::{Region, Respawn};

    fn sample<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
    }

    #[test]
    fn renders_every_family_with_help_and_type() {
        let region = Region::new(2).unwrap();
        let text = region.render();
        for name in [
            "granian_workers_spawns",
            "granian_workers_respawns_for_err",
            "granian_workers_respawns_for_lifetime",
            "granian_workers_respawns_for_rss",
            "granian_worker_lifetime",
            "granian_connections_active",
            "granian_connections_handled",
            "granian_connections_err",
            "granian_requests_handled",
            "granian_static_requests_handled",
            "granian_static_requests_err",
            "granian_blocking_threads",
            "granian_request_body_bytes_total",
            "granian_response_body_bytes_total",
            "granian_responses_total",
            "granian_request_duration_seconds",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}");
        }
        assert_eq!(sample(&text, "granian_requests_handled{worker=\"2\"}"), Some("0"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn sums_exited_and_live_processes_per_worker() {
        let region = Arc::new(Region::new(2).unwrap());
        region.count_spawns(3);
        region.count_respawns(Respawn::Lifetime, 1);
        let old = region.assign(1).unwrap();
        let recorder = region.recorder(old).unwrap();
        recorder.request();
        recorder.response(200, Duration::from_millis(2));
        recorder.sent(10);
        let _open = recorder.connection();
        region.release(old).unwrap();
        let new = region.recorder(region.assign(1).unwrap()).unwrap();
        new.request();
        new.response(404, Duration::from_millis(60));
        new.response(200, Duration::from_secs(20));
        new.received(4);
        new.set_blocking_threads(8);
        let _conn = new.connection();
        let text = region.render();
        assert_eq!(sample(&text, "granian_workers_spawns"), Some("3"));
        assert_eq!(sample(&text, "granian_workers_respawns_for_lifetime"), Some("1"));
        assert_eq!(sample(&text, "granian_requests_handled{worker=\"1\"}"), Some("2"));
        assert_eq!(sample(&text, "granian_requests_handled{worker=\"2\"}"), Some("0"));
        assert_eq!(sample(&text, "granian_connections_handled{worker=\"1\"}"), Some("2"));
        assert_eq!(sample(&text, "granian_connections_active{worker=\"1\"}"), Some("1"));
        assert_eq!(sample(&text, "granian_blocking_threads{worker=\"1\"}"), Some("8"));
        assert_eq!(
            sample(&text, "granian_request_body_bytes_total{worker=\"1\"}"),
            Some("4")
        );
        assert_eq!(
            sample(&text, "granian_response_body_bytes_total{worker=\"1\"}"),
            Some("10")
        );
        assert_eq!(
            sample(&text, "granian_responses_total{worker=\"1\",code=\"200\"}"),
            Some("2")
        );
        assert_eq!(
            sample(&text, "granian_responses_total{worker=\"1\",code=\"404\"}"),
            Some("1")
        );
        let histogram = "granian_request_duration_seconds";
        assert_eq!(
            sample(&text, &format!("{histogram}_bucket{{worker=\"1\",le=\"0.005\"}}")),
            Some("1")
        );
        assert_eq!(
            sample(&text, &format!("{histogram}_bucket{{worker=\"1\",le=\"0.075\"}}")),
            Some("2")
        );
        assert_eq!(
            sample(&text, &format!("{histogram}_bucket{{worker=\"1\",le=\"10.0\"}}")),
            Some("2")
        );
        assert_eq!(
            sample(&text, &format!("{histogram}_bucket{{worker=\"1\",le=\"+Inf\"}}")),
            Some("3")
        );
        assert_eq!(sample(&text, &format!("{histogram}_count{{worker=\"1\"}}")), Some("3"));
        assert_eq!(
            sample(&text, &format!("{histogram}_sum{{worker=\"1\"}}")),
            Some("20.062")
        );
    }
}
