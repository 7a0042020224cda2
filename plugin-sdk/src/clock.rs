//! The wall clock the host gives the component (WASI wall clock; the system
//! clock natively).

/// Milliseconds since the Unix epoch; `None` when the clock reports nothing plausible.
pub fn now_ms() -> Option<i64> {
    let elapsed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(elapsed.as_millis()).ok().filter(|&ms| ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_available_natively() {
        assert!(now_ms().unwrap() > 1_600_000_000_000);
    }
}
