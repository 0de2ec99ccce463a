//! IP address ranges (CIDR) for per-account allowlists, and which
//! addresses are internal (outgoing webhooks refuse them).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range such as `203.0.113.0/24` or `2001:db8::/32` (a bare
/// address is its own /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR range (such as 203.0.113.0/24)")]
pub struct CidrError(pub String);

fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let all = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    (all >> (width - prefix)) << (width - prefix)
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Self, CidrError> {
        let bad = || CidrError(s.to_string());
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(a).map_err(|_| bad())?;
        let (raw, width) = bits(addr);
        let prefix = match p {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.len() <= 3 => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => width,
        };
        if prefix > width {
            return Err(bad());
        }
        // Host bits must be zero, so what is stored is what is meant.
        if raw
            & !mask(prefix, width)
            & if width == 32 {
                u128::from(u32::MAX)
            } else {
                u128::MAX
            }
            != 0
        {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen as IPv4-mapped IPv6 matches IPv4 ranges.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, width) = bits(self.addr);
        let (raw, w2) = bits(ip);
        width == w2 && (raw & mask(self.prefix, width)) == net
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Whether `ip` may pass an allowlist (an empty list allows everyone).
pub fn allowed(list: &[Cidr], ip: IpAddr) -> bool {
    list.is_empty() || list.iter().any(|c| c.contains(ip))
}

/// Whether `ip` is an address a request from paylink must never reach on
/// a merchant's say-so (SSRF): loopback, private (RFC 1918), shared
/// (100.64/10), link-local (169.254/16, including the cloud metadata
/// address 169.254.169.254, and fe80::/10), unique-local (fc00::/7),
/// multicast, broadcast, unspecified, documentation and reserved ranges,
/// the 6to4 relay anycast, Teredo and local-use NAT64 prefixes, and the
/// IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64 and 6to4 forms of
/// any of them.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_unspecified()
                || a.is_documentation()
                || o[0] == 0 // "this network"
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared, 100.64/10
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol
                || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 6to4 relay anycast
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
                || o[0] >= 240 // reserved
        }
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let [s0, s1, s2, s3, s4, s5, s6, s7] = a.segments();
            // ::a.b.c.d (IPv4-compatible, deprecated), NAT64 64:ff9b::/96
            // and 6to4 2002::/16 carry an IPv4 address inside.
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    (hi & 0xff) as u8,
                    (lo >> 8) as u8,
                    (lo & 0xff) as u8,
                ))
            };
            if [s0, s1, s2, s3, s4, s5] == [0; 6] && !a.is_loopback() && !a.is_unspecified() {
                return is_internal(embedded(s6, s7));
            }
            if [s0, s1, s2, s3, s4, s5] == [0x64, 0xff9b, 0, 0, 0, 0]
                || [s0, s1, s2, s3, s4, s5] == [0, 0, 0, 0, 0xffff, 0]
            {
                // NAT64 and IPv4-translated (::ffff:0:a.b.c.d).
                return is_internal(embedded(s6, s7));
            }
            if s0 == 0x64 && s1 == 0xff9b && s2 == 1 {
                // Local-use NAT64 (RFC 8215): translated inside the site.
                return true;
            }
            if s0 == 0x2001 && s1 == 0 {
                // Teredo: a tunnel to an address it obfuscates.
                return true;
            }
            if s0 == 0x2002 {
                return is_internal(embedded(s1, s2));
            }
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s0 & 0xfe00) == 0xfc00 // unique-local
                || (s0 & 0xffc0) == 0xfe80 // link-local
                || (s0 & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s0 == 0x2001 && s1 == 0x0db8) // documentation
                || (s0 == 0x0100 && [s1, s2, s3] == [0, 0, 0]) // discard
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap_or(Cidr {
            addr: IpAddr::from([255, 255, 255, 255]),
            prefix: 32,
        })
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn ranges() {
        assert!(c("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(c("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!c("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:1::5")));
        assert!(!c("2001:db8::/32").contains(ip("10.0.0.1")));
        assert!(c("192.168.1.0/24").contains(ip("::ffff:192.168.1.9")));
        assert_eq!(c("10.0.0.0/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn refused() {
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "nope",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(allowed(&[], ip("1.2.3.4")));
        assert!(!allowed(&[c("10.0.0.0/8")], ip("1.2.3.4")));
    }

    #[test]
    fn internal_addresses() {
        for bad in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(is_internal(ip(bad)), "{bad}");
        }
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "203.0.114.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(good)), "{good}");
        }
    }
}
