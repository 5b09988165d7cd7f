use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// The last second formatted on this thread: requests finishing within the same second
    /// reuse it instead of converting again.
    static LAST: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

/// `at` in local time as `2024-01-31 12:00:00 +0100`, to the second (as Granian writes it).
pub(crate) fn local_time(at: SystemTime) -> String {
    let seconds = match at.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |secs| -secs),
    };
    LAST.with_borrow_mut(|(second, text)| {
        if *second != seconds {
            *text = format_local(seconds);
            *second = seconds;
        }
        text.clone()
    })
}

fn format_local(seconds: i64) -> String {
    let Some(time) = libc::time_t::try_from(seconds).ok() else {
        return "-".to_owned();
    };
    // SAFETY: `tm` is plain data, zeroed is a valid value; `localtime_r` only writes into
    // the `tm` it is given and reads `time`, both alive for the call.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&raw const time, &raw mut tm).is_null() {
            return "-".to_owned();
        }
        tm
    };
    let offset = tm.tm_gmtoff / 60;
    let sign = if offset < 0 { '-' } else { '+' };
    let mut text = String::with_capacity(25);
    let _ = write!(
        text,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        offset.abs() / 60,
        offset.abs() % 60,
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape() {
        let text = local_time(SystemTime::now());
        assert_eq!(text.len(), 25, "{text}");
        assert_eq!(&text[4..5], "-");
        assert!(matches!(&text[20..21], "+" | "-"), "{text}");
        assert_eq!(local_time(SystemTime::now()).len(), 25);
    }
}
