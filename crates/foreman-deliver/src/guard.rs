//! The SSRF guard: which resolved addresses a delivery may connect to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

/// An address a delivery may not connect to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The address.
    pub addr: IpAddr,
    /// Its kind (`loopback`, `private`, `link-local`, ...).
    pub kind: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "refused to connect to {} ({} address; allow it with [webhooks] allow_private)",
            self.addr, self.kind
        )
    }
}

impl std::error::Error for Refused {}

/// Which addresses deliveries may reach: every public address, and the non-public ones listed
/// in `allow` (addresses or networks).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    /// Non-public addresses or networks that are allowed anyway.
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Parses `allow_private` entries (`127.0.0.1`, `10.0.0.0/8`, `::1`).
    ///
    /// # Errors
    /// The first entry that is neither an address nor a network, with its index.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        let mut allow = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let net = e
                .parse::<IpNet>()
                .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("allow_private[{i}]: {e:?} is not an address or network"))?;
            allow.push(net);
        }
        Ok(Self { allow })
    }

    /// Whether a delivery may connect to `addr`.
    ///
    /// # Errors
    /// [`Refused`] naming the kind of address.
    pub fn check(&self, addr: IpAddr) -> Result<(), Refused> {
        let canonical = canonical(addr);
        let Some(kind) = classify(canonical) else {
            return Ok(());
        };
        if self
            .allow
            .iter()
            .any(|n| n.contains(&addr) || n.contains(&canonical))
        {
            return Ok(());
        }
        Err(Refused { addr, kind })
    }
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or
/// NAT64 (`64:ff9b::a.b.c.d`) IPv6 address; any other address as it is.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let s = v6.segments();
            if s[..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback() && !v6.is_unspecified() {
                return IpAddr::V4(low32(v6));
            }
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return IpAddr::V4(low32(v6));
            }
            addr
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn low32(v6: Ipv6Addr) -> Ipv4Addr {
    let o = v6.octets();
    Ipv4Addr::new(o[12], o[13], o[14], o[15])
}

/// The kind of a non-public address, `None` for a public one.
fn classify(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => {
            let [o0, o1, o2, _] = a.octets();
            if a.is_loopback() {
                Some("loopback")
            } else if a.is_private() {
                Some("private")
            } else if a.is_link_local() {
                // 169.254.0.0/16, cloud metadata (169.254.169.254) included
                Some("link-local")
            } else if o0 == 100 && (o1 & 0xc0) == 64 {
                Some("shared (CGNAT)")
            } else if a.is_multicast() {
                Some("multicast")
            } else if a.is_unspecified() || o0 == 0 {
                Some("unspecified")
            } else if a.is_broadcast()
                || o0 >= 240
                || (o0 == 192 && o1 == 0 && o2 == 0)
                || (o0 == 198 && (o1 & 0xfe) == 18)
            {
                // 240/4, 192.0.0/24 (protocol assignments), 198.18/15 (benchmarking)
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            if a.is_loopback() {
                Some("loopback")
            } else if a.is_unspecified() {
                Some("unspecified")
            } else if a.is_multicast() {
                Some("multicast")
            } else if (s0 & 0xfe00) == 0xfc00 {
                // fc00::/7, fd00:ec2::254 (a cloud metadata address) included
                Some("unique-local")
            } else if (s0 & 0xffc0) == 0xfe80 || (s0 & 0xffc0) == 0xfec0 {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: &AddressPolicy, s: &str) -> Option<&'static str> {
        p.check(s.parse().unwrap()).err().map(|r| r.kind)
    }

    #[test]
    fn non_public_addresses_are_refused() {
        let p = AddressPolicy::default();
        for (addr, kind) in [
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.254", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00:ec2::254", "unique-local"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            assert_eq!(refused(&p, addr), Some(kind), "{addr}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "100.128.0.1", "2606:4700::1111"] {
            assert_eq!(refused(&p, public), None, "{public}");
        }
    }

    #[test]
    fn allowed_networks_let_non_public_addresses_through() {
        let p = AddressPolicy::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap();
        assert_eq!(refused(&p, "127.0.0.1"), None);
        assert_eq!(refused(&p, "::ffff:127.0.0.1"), None);
        assert_eq!(refused(&p, "10.200.0.1"), None);
        assert_eq!(refused(&p, "127.0.0.2"), Some("loopback"));
        assert_eq!(refused(&p, "169.254.169.254"), Some("link-local"));
        let e = AddressPolicy::parse(&["10.0.0.0/8".into(), "nope".into()]).unwrap_err();
        assert!(e.starts_with("allow_private[1]"), "{e}");
    }
}
