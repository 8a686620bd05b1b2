//! Which URLs edgewrite may fetch on a client's behalf (a remote avatar image, a site's
//! favicon): `http`/`https` to a public host. Address literals in every spelling the WHATWG URL
//! parser accepts (decimal, hex, IPv4-mapped IPv6, …) are normalised first, then refused when
//! loopback, private, link-local, shared, reserved or multicast; names are refused when they can
//! only be local (`localhost`, `*.local`, `*.internal`, one label, …). What a public name resolves
//! to is the platform's to police (README, "Avatars"): a Worker's `fetch` does not reach private
//! addresses, and Spin's `block_networks` refuses them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Why a URL may not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an absolute `http`/`https` URL with a host.
    NotHttp,
    /// The host is, or can only name, a non-public address.
    NotPublic(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotHttp => f.write_str("only http and https URLs can be fetched"),
            Refusal::NotPublic(host) => write!(f, "{host} is not a public host"),
        }
    }
}

/// Name suffixes that only ever name hosts on a private network.
const LOCAL_SUFFIXES: &[&str] = &[
    "localhost",
    "local",
    "internal",
    "localdomain",
    "home.arpa",
    "lan",
    "intranet",
    "test",
    "invalid",
    "example",
];

/// `url` parsed and checked: `http`/`https`, a public host, or one of `private_origins` (exact
/// `scheme://host:port` origins the operator allows although they are not public).
pub fn check(url: &str, private_origins: &[String]) -> Result<Url, Refusal> {
    let parsed = Url::parse(url).map_err(|_| Refusal::NotHttp)?;
    if !matches!(parsed.scheme(), "http" | "https")
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(Refusal::NotHttp);
    }
    let origin = parsed.origin().ascii_serialization();
    if private_origins.iter().any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(&origin)) {
        return Ok(parsed);
    }
    let refuse = |host: &str| Err(Refusal::NotPublic(host.to_string()));
    match parsed.host() {
        None => Err(Refusal::NotHttp),
        Some(Host::Ipv4(ip)) if !public_v4(ip) => refuse(&ip.to_string()),
        Some(Host::Ipv6(ip)) if !public_v6(ip) => refuse(&format!("[{ip}]")),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let local = !name.contains('.')
                || LOCAL_SUFFIXES.iter().any(|s| name == *s || name.ends_with(&format!(".{s}")));
            if local {
                refuse(&name)
            } else {
                Ok(parsed)
            }
        }
        Some(_) => Ok(parsed),
    }
}

/// `url` checked as a webhook destination: `http`/`https` to a public host, or to one of
/// `allowed_hosts` (`name` for any port, or `name:port`; lower-case), which the operator allows
/// although it is not public.
pub fn check_allowing_hosts(url: &str, allowed_hosts: &[String]) -> Result<Url, Refusal> {
    let parsed = Url::parse(url).map_err(|_| Refusal::NotHttp)?;
    if matches!(parsed.scheme(), "http" | "https")
        && parsed.username().is_empty()
        && parsed.password().is_none()
    {
        if let Some(host) = parsed.host_str() {
            let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
            let port = parsed.port_or_known_default().unwrap_or(0);
            let with_port = format!("{host}:{port}");
            if allowed_hosts.iter().any(|a| *a == host || *a == with_port) {
                return Ok(parsed);
            }
        }
    }
    check(url, &[])
}

/// Whether an address is on the public internet.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network"
        || a == 10                             // private
        || (a == 100 && (64..128).contains(&b)) // shared (carrier-grade NAT)
        || a == 127                            // loopback
        || (a == 169 && b == 254)              // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF protocol assignments, documentation
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // private
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Addresses that carry an IPv4 address: judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return public_v4(v4);
    }
    // SIIT (`::ffff:0:a.b.c.d`) carries one too.
    if s[0..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    // Local-use NAT64 (`64:ff9b:1::/48`) translates into a private network.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return false;
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return public_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return public_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0]          // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00              // unique local
        || (s[0] & 0xffc0) == 0xfe80              // link-local
        || (s[0] & 0xffc0) == 0xfec0              // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00              // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)     // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard
        || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments (Teredo, ORCHID, …)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        check(url, &[]).is_err()
    }

    #[test]
    fn public_hosts_pass() {
        for url in [
            "https://appwrite.io/favicon.ico",
            "http://example.com:8080/a.png",
            "https://8.8.8.8/x",
            "https://[2606:4700:4700::1111]/x",
            "https://CDN.Example.org./img.png",
        ] {
            assert!(check(url, &[]).is_ok(), "{url}");
        }
    }

    #[test]
    fn local_addresses_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0.0.0.0/",
            "http://10.0.0.8/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[64:ff9b::a00:1]/",
            "http://[::ffff:0:7f00:1]/",
            "http://[64:ff9b:1::808:808]/",
            "http://[2002:7f00:1::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://printer.local/",
            "http://metadata.google.internal/",
            "http://intranet/",
            "http://router.home.arpa/",
        ] {
            assert!(refused(url), "{url} must be refused");
        }
    }

    #[test]
    fn only_http_urls_with_a_host_and_no_credentials() {
        for url in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "ftp://example.com/",
            "not a url",
            "https://user:pw@example.com/",
        ] {
            assert_eq!(check(url, &[]).unwrap_err(), Refusal::NotHttp, "{url}");
        }
    }

    #[test]
    fn an_allowed_private_origin_matches_exactly() {
        let allowed = vec!["http://127.0.0.1:9000".to_string()];
        assert!(check("http://127.0.0.1:9000/a.png", &allowed).is_ok());
        assert!(check("http://127.0.0.1:9001/a.png", &allowed).is_err());
        assert!(check("https://127.0.0.1:9000/a.png", &allowed).is_err());
        assert!(check("http://localhost:9000/a.png", &allowed).is_err());
    }
}
