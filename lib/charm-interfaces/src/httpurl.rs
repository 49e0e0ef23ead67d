//! The little URL handling the contracts need: split an `http(s)://host[:port][/path]` URL into
//! scheme, network location and path, refusing anything else.

use std::net::Ipv6Addr;

/// An `http` or `https` URL, split.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HttpUrl {
    /// `http` or `https` (lower case).
    pub scheme: String,
    /// `host[:port]`, IPv6 hosts in brackets.
    pub netloc: String,
    /// Path without query or fragment; `""` when none.
    pub path: String,
}

/// `text` as an error may quote it: credentials masked, cut to 200 characters.
fn shown(text: &str) -> String {
    let masked = match text.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://***{}", &rest[at..]),
                None => text.to_owned(),
            }
        }
        None => text.to_owned(),
    };
    crate::validate::brief(&masked, 200)
}

/// Parse `text`; the error says what is wrong (quoting at most 200 characters of it, never
/// its credentials).
pub(crate) fn parse(text: &str) -> Result<HttpUrl, String> {
    let quoted = || shown(text);
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("{:?} is not a URL (no scheme)", quoted()))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("{:?}: scheme must be http or https", quoted()));
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (netloc, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    check_netloc(netloc).map_err(|e| format!("{:?}: {e}", quoted()))?;
    if path.chars().any(char::is_whitespace) {
        return Err(format!("{:?}: path contains whitespace", quoted()));
    }
    Ok(HttpUrl {
        scheme,
        netloc: netloc.to_owned(),
        path: path.to_owned(),
    })
}

fn check_netloc(netloc: &str) -> Result<(), &'static str> {
    if netloc.contains('@') {
        return Err("credentials in the URL are not accepted");
    }
    let (host, port) = if let Some(rest) = netloc.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unclosed IPv6 bracket")?;
        h.parse::<Ipv6Addr>().map_err(|_| "invalid IPv6 address")?;
        match after {
            "" => (h, None),
            p => (
                h,
                Some(p.strip_prefix(':').ok_or("junk after IPv6 address")?),
            ),
        }
    } else {
        match netloc.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (netloc, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
    if !host_ok {
        return Err("invalid host");
    }
    if let Some(p) = port {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            return Err("invalid port");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let u = parse("https://traefik.example.com/cos-alertmanager").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.netloc.as_str(), u.path.as_str()),
            ("https", "traefik.example.com", "/cos-alertmanager")
        );
        let u = parse("http://[fd00::1]:9093").unwrap();
        assert_eq!((u.netloc.as_str(), u.path.as_str()), ("[fd00::1]:9093", ""));
        for bad in [
            "am:9093",
            "ftp://x",
            "http://",
            "http://a b",
            "http://x:port",
            "http://u:p@x",
            "http://[zz]:1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_quote_a_short_url_without_credentials() {
        let e = parse("http://ops:s3cret@am.test:9093/x").unwrap_err();
        assert!(!e.contains("s3cret") && !e.contains("ops"), "{e}");
        assert!(e.contains("***@am.test:9093"), "{e}");
        let long = format!("{}://{}", "b".repeat(5000), "a".repeat(300));
        let e = parse(&long).unwrap_err();
        assert!(e.len() < 300, "{} bytes", e.len());
    }
}
