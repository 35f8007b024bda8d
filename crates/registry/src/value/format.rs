//! Text formats Kubernetes uses inside its JSON: RFC 3339 times, Go
//! duration strings, and JSON string escaping / minifying for the writer.

/// Appends `s` as a JSON string literal.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Almost no Kubernetes string needs escaping: one copy then.
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends protobuf string bytes as a JSON string; invalid UTF-8 is
/// replaced like Go's encoding/json does.
pub(crate) fn write_str_bytes(out: &mut Vec<u8>, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => write_str(out, s),
        Err(_) => write_str(out, &String::from_utf8_lossy(b)),
    }
}

/// Appends valid JSON text without insignificant whitespace.
pub(crate) fn write_minified(out: &mut Vec<u8>, json: &[u8]) {
    let mut in_str = false;
    let mut escaped = false;
    for &b in json {
        if in_str {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
        } else if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            if b == b'"' {
                in_str = true;
            }
            out.push(b);
        }
    }
}

/// How deep JSON text nests (objects and arrays), strings skipped. Linear,
/// with no recursion, so it is safe on any bytes.
pub(crate) fn json_depth(json: &[u8]) -> u32 {
    let (mut depth, mut max) = (0u32, 0u32);
    let mut in_str = false;
    let mut escaped = false;
    for &b in json {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends `"YYYY-MM-DDTHH:MM:SS[.ffffff]Z"` for a Unix time in UTC.
pub(crate) fn write_time(out: &mut Vec<u8>, seconds: i64, nanos: i32, micros: bool) {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut buf = [0u8; 40];
    let n = {
        use std::io::Write;
        let mut c = std::io::Cursor::new(&mut buf[..]);
        if (0..=9999).contains(&y) {
            let _ = write!(c, "\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        } else {
            let _ = write!(c, "\"{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}");
        }
        if micros {
            let us = (nanos.clamp(0, 999_999_999) / 1000) as u32;
            let _ = write!(c, ".{us:06}");
        }
        let _ = write!(c, "Z\"");
        c.position() as usize
    };
    out.extend_from_slice(&buf[..n]);
}

/// Go's `time.Duration.String()`.
pub(crate) fn go_duration(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut s = String::new();
    if u < 1_000_000_000 {
        // Sub-second: the largest unit among ns, µs, ms with fractions.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        s.push_str(&frac(u, div));
        s.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let nanos = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        let sec = secs_total % 60;
        if h > 0 {
            s.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            s.push_str(&format!("{m}m"));
        }
        s.push_str(&frac(sec * 1_000_000_000 + nanos, 1_000_000_000));
        s.push('s');
    }
    if neg {
        s.insert(0, '-');
    }
    s
}

/// `v / div` with the fractional digits Go prints (no trailing zeros).
fn frac(v: u64, div: u64) -> String {
    let int = v / div;
    let rem = v % div;
    if rem == 0 {
        return int.to_string();
    }
    // `div` is a power of ten: its digits after the 1 are the width.
    let width = div.ilog10() as usize;
    let mut f = format!("{rem:0width$}");
    while f.ends_with('0') {
        f.pop();
    }
    format!("{int}.{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_match_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(1), "1ns");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(3_723_000_000_000), "1h2m3s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(60_000_000_000), "1m0s");
        assert_eq!(go_duration(-2_000_000), "-2ms");
    }

    #[test]
    fn strings_are_escaped() {
        let mut o = Vec::new();
        write_str(&mut o, "a\"b\\c\n\u{1}é");
        assert_eq!(String::from_utf8(o).unwrap(), r#""a\"b\\c\n\u0001é""#);
        let mut o = Vec::new();
        write_minified(&mut o, b"{ \"a b\" : [1, \"\\\" x\"] }");
        assert_eq!(o, br#"{"a b":[1,"\" x"]}"#);
    }

    #[test]
    fn times() {
        let mut o = Vec::new();
        write_time(&mut o, 1_199_149_261, 0, false);
        assert_eq!(o, b"\"2008-01-01T01:01:01Z\"");
        o.clear();
        write_time(&mut o, 0, 5_000, true);
        assert_eq!(o, b"\"1970-01-01T00:00:00.000005Z\"");
    }
}
