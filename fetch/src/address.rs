//! Special-use addresses: the ones the fetcher never connects to (security-matrix §5 item 3;
//! draft-ietf-oauth-client-id-metadata-document §6.5: "MUST NOT" fetch from special-use
//! addresses). The blocks come from RFC 6890 and the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries that continue it: every block that is not globally reachable, plus the
//! documentation, benchmarking, multicast and reserved ranges, none of which serves a document.
//!
//! Embedded IPv4 addresses are judged by the IPv4 rules: IPv4-mapped `::ffff:a.b.c.d`
//! (RFC 4291 §2.5.5.2) and the NAT64 well-known prefix `64:ff9b::/96` (RFC 6052 §2.1), so
//! `::ffff:10.0.0.1` and `64:ff9b::a9fe:a9fe` are refused like `10.0.0.1` and
//! `169.254.169.254`. Every IPv6 address outside global unicast `2000::/3` (RFC 4291 §2.4) is
//! refused, which covers the deprecated IPv4-compatible `::a.b.c.d` form and any block IANA
//! assigns outside it later.
//!
//! Cloud metadata services sit inside these blocks: `169.254.169.254` (AWS, GCP, Azure) and
//! `fd00:ec2::254` (AWS) are link-local and unique-local, `100.100.100.200` (Alibaba) is shared
//! address space, `192.0.0.192` (Oracle) is an IETF protocol assignment.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A block of special-use addresses, as the fetcher names it in errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialUse {
    /// The block in CIDR notation, e.g. `10.0.0.0/8`.
    pub block: &'static str,
    /// What it is for, after the IANA registry (with the RFC that assigns it).
    pub name: &'static str,
}

impl fmt::Display for SpecialUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.block, self.name)
    }
}

struct V4Block {
    network: u32,
    prefix_len: u32,
    special: SpecialUse,
}

struct V6Block {
    network: u128,
    prefix_len: u32,
    special: SpecialUse,
}

const fn v4(network: [u8; 4], prefix_len: u32, block: &'static str, name: &'static str) -> V4Block {
    V4Block {
        network: u32::from_be_bytes(network),
        prefix_len,
        special: SpecialUse { block, name },
    }
}

const fn v6(
    network: [u16; 8],
    prefix_len: u32,
    block: &'static str,
    name: &'static str,
) -> V6Block {
    let [a, b, c, d, e, f, g, h] = network;
    V6Block {
        network: ((a as u128) << 112)
            | ((b as u128) << 96)
            | ((c as u128) << 80)
            | ((d as u128) << 64)
            | ((e as u128) << 48)
            | ((f as u128) << 32)
            | ((g as u128) << 16)
            | (h as u128),
        prefix_len,
        special: SpecialUse { block, name },
    }
}

/// IPv4: RFC 6890 §2.2.2 and the IANA IPv4 Special-Purpose Address Registry (the blocks not
/// globally reachable), multicast and the reserved 240/4; security-matrix §5 item 3 lists each.
#[rustfmt::skip]
const V4_BLOCKS: &[V4Block] = &[
    v4([0, 0, 0, 0],      8,  "0.0.0.0/8",       "\"this network\", RFC 791"),
    v4([10, 0, 0, 0],     8,  "10.0.0.0/8",      "private-use, RFC 1918"),
    v4([100, 64, 0, 0],   10, "100.64.0.0/10",   "shared address space (CGNAT), RFC 6598"),
    v4([127, 0, 0, 0],    8,  "127.0.0.0/8",     "loopback, RFC 1122"),
    v4([169, 254, 0, 0],  16, "169.254.0.0/16",  "link-local (cloud metadata), RFC 3927"),
    v4([172, 16, 0, 0],   12, "172.16.0.0/12",   "private-use, RFC 1918"),
    v4([192, 0, 0, 0],    24, "192.0.0.0/24",    "IETF protocol assignments, RFC 6890"),
    v4([192, 0, 2, 0],    24, "192.0.2.0/24",    "documentation (TEST-NET-1), RFC 5737"),
    v4([192, 88, 99, 0],  24, "192.88.99.0/24",  "6to4 relay anycast (deprecated), RFC 7526"),
    v4([192, 168, 0, 0],  16, "192.168.0.0/16",  "private-use, RFC 1918"),
    v4([198, 18, 0, 0],   15, "198.18.0.0/15",   "benchmarking, RFC 2544"),
    v4([198, 51, 100, 0], 24, "198.51.100.0/24", "documentation (TEST-NET-2), RFC 5737"),
    v4([203, 0, 113, 0],  24, "203.0.113.0/24",  "documentation (TEST-NET-3), RFC 5737"),
    v4([224, 0, 0, 0],    4,  "224.0.0.0/4",     "multicast, RFC 5771"),
    v4([240, 0, 0, 0],    4,  "240.0.0.0/4",     "reserved and limited broadcast, RFC 1112"),
];

/// IPv6: RFC 6890 §2.2.3 and the IANA IPv6 Special-Purpose Address Registry, in the order they
/// are looked up (the more specific first). `::ffff:0:0/96` and `64:ff9b::/96` are not here:
/// they carry an IPv4 address, judged by [`V4_BLOCKS`].
#[rustfmt::skip]
const V6_BLOCKS: &[V6Block] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0],          128, "::/128",         "unspecified, RFC 4291"),
    v6([0, 0, 0, 0, 0, 0, 0, 1],          128, "::1/128",        "loopback, RFC 4291"),
    v6([0, 0, 0, 0, 0, 0, 0, 0],          96,  "::/96",          "IPv4-compatible (deprecated), RFC 4291"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0],  48,  "64:ff9b:1::/48", "local-use NAT64, RFC 8215"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0],      64,  "100::/64",       "discard-only, RFC 6666"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0],     23,  "2001::/23",      "IETF protocol assignments, RFC 2928"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32,  "2001:db8::/32",  "documentation, RFC 3849"),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0],     16,  "2002::/16",      "6to4, RFC 3056"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0],     20,  "3fff::/20",      "documentation, RFC 9637"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0],     16,  "5f00::/16",      "segment routing (SRv6) SIDs, RFC 9602"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0],     7,   "fc00::/7",       "unique-local (cloud metadata), RFC 4193"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0],     10,  "fe80::/10",      "link-local, RFC 4291"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0],     10,  "fec0::/10",      "site-local (deprecated), RFC 3879"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0],     8,   "ff00::/8",       "multicast, RFC 4291"),
];

/// Everything outside global unicast: reserved by the IETF or not assigned (RFC 4291 §2.4).
const NOT_GLOBAL_UNICAST: SpecialUse = SpecialUse {
    block: "outside 2000::/3",
    name: "not global unicast, RFC 4291",
};

/// The NAT64 well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
const NAT64_PREFIX: u128 = 0x0064_ff9b_u128 << 96;

fn in_block(addr: u128, network: u128, prefix_len: u32, bits: u32) -> bool {
    let shift = bits - prefix_len;
    addr.checked_shr(shift).unwrap_or(0) == network.checked_shr(shift).unwrap_or(0)
}

/// The IPv4 address an IPv6 address carries and stands for: IPv4-mapped (`::ffff:0:0/96`) or
/// NAT64 well-known prefix (`64:ff9b::/96`), which reach the IPv4 address itself.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let bits = u128::from(ip);
    // The low 32 bits are the IPv4 address (RFC 6052 §2.2).
    let low = (bits & 0xffff_ffff) as u32;
    (bits >> 32 == NAT64_PREFIX >> 32).then(|| Ipv4Addr::from(low))
}

/// The special-use block `ip` is in, or `None` for an address the fetcher may connect to.
pub fn special_use(ip: IpAddr) -> Option<SpecialUse> {
    match ip {
        IpAddr::V4(v4) => special_use_v4(v4),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some(v4) => special_use_v4(v4),
            None => special_use_v6(v6),
        },
    }
}

fn special_use_v4(ip: Ipv4Addr) -> Option<SpecialUse> {
    let addr = u128::from(u32::from(ip));
    V4_BLOCKS
        .iter()
        .find(|b| in_block(addr, u128::from(b.network), b.prefix_len, 32))
        .map(|b| b.special)
}

fn special_use_v6(ip: Ipv6Addr) -> Option<SpecialUse> {
    let addr = u128::from(ip);
    let found = V6_BLOCKS
        .iter()
        .find(|b| in_block(addr, b.network, b.prefix_len, 128))
        .map(|b| b.special);
    found.or_else(|| (addr >> 125 != 0b001).then_some(NOT_GLOBAL_UNICAST))
}

/// Whether `ip` is a loopback address, `127.0.0.0/8` or `::1`, also as IPv4-mapped
/// `::ffff:127.0.0.1`: the only special-use addresses the development exception opens.
/// A NAT64 address is never loopback: it reaches a translator, not this host.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Known cloud metadata services inside the internal blocks of [`is_internal`], never opened:
/// `fd00:ec2::254` (AWS, unique-local) and `100.100.100.200` (Alibaba, shared address space).
const METADATA_SERVICES: [IpAddr; 2] = [
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
];

/// Whether `ip` is an address of an internal network that an explicitly allowed URL prefix
/// may reach ([`crate::policy::AllowedPrefix`]): loopback, private-use (`10/8`, `172.16/12`,
/// `192.168/16`), shared address space (`100.64/10`, CGNAT, common inside clusters) and
/// unique-local `fc00::/7`, also as IPv4-mapped addresses. Never link-local (`169.254/16`,
/// `fe80::/10`, where metadata services live), never a known metadata service, never anything
/// else special-use (unspecified, multicast, documentation, ...).
pub fn is_internal(ip: IpAddr) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    let judged = v4.map_or(ip, IpAddr::V4);
    if METADATA_SERVICES.contains(&judged) {
        return false;
    }
    if is_loopback(judged) {
        return true;
    }
    match judged {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 10
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => v6.segments()[0] & 0xfe00 == 0xfc00,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ip: &str) -> Option<&'static str> {
        special_use(ip.parse().unwrap()).map(|s| s.block)
    }

    /// Each block's text and numbers agree.
    #[test]
    fn the_tables_say_what_they_mean() {
        for b in V4_BLOCKS {
            let (net, len) = b.special.block.split_once('/').unwrap();
            assert_eq!(
                u32::from(net.parse::<Ipv4Addr>().unwrap()),
                b.network,
                "{}",
                b.special
            );
            assert_eq!(len.parse::<u32>().unwrap(), b.prefix_len, "{}", b.special);
        }
        for b in V6_BLOCKS {
            let (net, len) = b.special.block.split_once('/').unwrap();
            assert_eq!(
                u128::from(net.parse::<Ipv6Addr>().unwrap()),
                b.network,
                "{}",
                b.special
            );
            assert_eq!(len.parse::<u32>().unwrap(), b.prefix_len, "{}", b.special);
        }
    }

    /// Security-matrix §5 item 3, IPv4: the first, a middle and the last address of each block,
    /// and the neighbours just outside it.
    #[test]
    fn every_ipv4_block_from_edge_to_edge() {
        let cases = [
            (
                "0.0.0.0",
                "0.0.0.255",
                "0.255.255.255",
                "1.0.0.0",
                "0.0.0.0/8",
            ),
            (
                "10.0.0.0",
                "10.1.2.3",
                "10.255.255.255",
                "11.0.0.0",
                "10.0.0.0/8",
            ),
            (
                "100.64.0.0",
                "100.100.100.200",
                "100.127.255.255",
                "100.128.0.0",
                "100.64.0.0/10",
            ),
            (
                "127.0.0.0",
                "127.0.0.1",
                "127.255.255.255",
                "128.0.0.0",
                "127.0.0.0/8",
            ),
            (
                "169.254.0.0",
                "169.254.169.254",
                "169.254.255.255",
                "169.255.0.0",
                "169.254.0.0/16",
            ),
            (
                "172.16.0.0",
                "172.20.0.1",
                "172.31.255.255",
                "172.32.0.0",
                "172.16.0.0/12",
            ),
            (
                "192.0.0.0",
                "192.0.0.192",
                "192.0.0.255",
                "192.0.1.0",
                "192.0.0.0/24",
            ),
            (
                "192.0.2.0",
                "192.0.2.1",
                "192.0.2.255",
                "192.0.3.0",
                "192.0.2.0/24",
            ),
            (
                "192.88.99.0",
                "192.88.99.1",
                "192.88.99.255",
                "192.88.100.0",
                "192.88.99.0/24",
            ),
            (
                "192.168.0.0",
                "192.168.1.1",
                "192.168.255.255",
                "192.169.0.0",
                "192.168.0.0/16",
            ),
            (
                "198.18.0.0",
                "198.19.0.1",
                "198.19.255.255",
                "198.20.0.0",
                "198.18.0.0/15",
            ),
            (
                "198.51.100.0",
                "198.51.100.7",
                "198.51.100.255",
                "198.51.101.0",
                "198.51.100.0/24",
            ),
            (
                "203.0.113.0",
                "203.0.113.9",
                "203.0.113.255",
                "203.0.114.0",
                "203.0.113.0/24",
            ),
            (
                "224.0.0.0",
                "239.1.2.3",
                "239.255.255.255",
                "223.255.255.255",
                "224.0.0.0/4",
            ),
            (
                "240.0.0.0",
                "250.1.2.3",
                "255.255.255.255",
                "239.255.255.255",
                "240.0.0.0/4",
            ),
        ];
        for (first, middle, last, outside, expected) in cases {
            for ip in [first, middle, last] {
                assert_eq!(block(ip), Some(expected), "{ip}");
            }
            assert_ne!(block(outside), Some(expected), "{outside}");
        }
        // Neighbours that are not special-use at all.
        for ip in [
            "1.0.0.0",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
        ] {
            assert_eq!(block(ip), None, "{ip}");
        }
        for ip in [
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
        ] {
            assert_eq!(block(ip), None, "{ip}");
        }
        for ip in [
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(block(ip), None, "{ip}");
        }
        for ip in ["8.8.8.8", "93.184.215.14", "1.1.1.1"] {
            assert_eq!(block(ip), None, "{ip}");
        }
    }

    /// Security-matrix §5 item 3, IPv6.
    #[test]
    fn every_ipv6_block() {
        let cases = [
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("::2", "::/96"),
            ("::8.8.8.8", "::/96"),
            ("64:ff9b:1::1", "64:ff9b:1::/48"),
            ("100::1", "100::/64"),
            ("2001::1", "2001::/23"),
            ("2001:1ff:ffff::1", "2001::/23"),
            ("2001:db8::1", "2001:db8::/32"),
            ("2001:db8:ffff:ffff::1", "2001:db8::/32"),
            ("2002::1", "2002::/16"),
            ("2002:7f00:1::", "2002::/16"),
            ("3fff::1", "3fff::/20"),
            ("5f00::1", "5f00::/16"),
            ("fc00::1", "fc00::/7"),
            ("fd00:ec2::254", "fc00::/7"),
            ("fdff:ffff::1", "fc00::/7"),
            ("fe80::1", "fe80::/10"),
            ("febf:ffff::1", "fe80::/10"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("4000::1", "outside 2000::/3"),
            ("1fff:ffff::1", "outside 2000::/3"),
            ("::ffff:0:808:808", "outside 2000::/3"),
        ];
        for (ip, expected) in cases {
            assert_eq!(block(ip), Some(expected), "{ip}");
        }
        for ip in [
            "2001:200::1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "2a00:1450::1",
        ] {
            assert_eq!(block(ip), None, "{ip}");
        }
    }

    /// IPv4-mapped and NAT64 addresses are judged by the IPv4 rules; the IPv4-compatible form is
    /// refused whatever it carries.
    #[test]
    fn embedded_ipv4_follows_the_ipv4_rules() {
        assert_eq!(block("::ffff:127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(block("::ffff:7f00:1"), Some("127.0.0.0/8"));
        assert_eq!(block("::ffff:10.0.0.1"), Some("10.0.0.0/8"));
        assert_eq!(block("::ffff:169.254.169.254"), Some("169.254.0.0/16"));
        assert_eq!(block("::ffff:0.0.0.0"), Some("0.0.0.0/8"));
        assert_eq!(block("::ffff:8.8.8.8"), None);
        assert_eq!(block("64:ff9b::127.0.0.1"), Some("127.0.0.0/8"));
        assert_eq!(block("64:ff9b::a9fe:a9fe"), Some("169.254.0.0/16"));
        assert_eq!(block("64:ff9b::192.168.0.1"), Some("192.168.0.0/16"));
        assert_eq!(block("64:ff9b::8.8.8.8"), None);
        assert_eq!(block("::127.0.0.1"), Some("::/96"));
    }

    #[test]
    fn loopback_is_127_slash_8_and_colon_colon_1_only() {
        for ip in ["127.0.0.1", "127.255.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "64:ff9b::127.0.0.1",
            "::127.0.0.1",
            "8.8.8.8",
        ] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn errors_name_the_block() {
        let s = special_use("169.254.169.254".parse().unwrap()).unwrap();
        assert_eq!(
            s.to_string(),
            "169.254.0.0/16 (link-local (cloud metadata), RFC 3927)"
        );
    }

    #[test]
    fn internal_addresses_for_allowed_prefixes() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "::ffff:127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "fc00::1",
            "fd12:3456::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "169.254.169.254",
            "::ffff:169.254.169.254",
            "fd00:ec2::254",
            "100.100.100.200",
            "::ffff:100.100.100.200",
            "fe80::1",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.215.14",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
