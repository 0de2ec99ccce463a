//! IP address ranges (CIDR) for per-account allowlists.

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
}
