//! A tiny authoritative DNS server on loopback UDP for the tests: answers A, AAAA and SRV
//! queries from a table the test edits while it runs, NXDOMAIN for unknown names.
//!
//! The wire format is written by hand (RFC 1035 §4, RFC 2782) rather than with hickory's own
//! message types, so the production resolver is checked against an independent encoder.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
const RCODE_SERVFAIL: u16 = 2;
const RCODE_NXDOMAIN: u16 = 3;
/// Long enough that a caching resolver would still serve a removed name.
const TTL: u32 = 300;

/// One record of a name; a name may have several.
#[derive(Debug, Clone)]
pub enum Record {
    Ip(IpAddr),
    Srv {
        target: String,
        port: u16,
    },
    /// Answer every query for the name with SERVFAIL.
    ServFail,
}

#[derive(Debug, Default)]
struct Zone {
    records: HashMap<String, Vec<Record>>,
    /// Questions received, by `name/type`.
    questions: HashMap<String, usize>,
}

type SharedZone = Arc<Mutex<Zone>>;

pub struct TestDns {
    addr: SocketAddr,
    zone: SharedZone,
    task: JoinHandle<()>,
}

impl TestDns {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the test DNS server");
        let addr = socket.local_addr().expect("test DNS server address");
        let zone = SharedZone::default();
        let task = tokio::spawn(serve(socket, zone.clone()));
        Self { addr, zone, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the records of `name` (no trailing dot).
    pub fn set(&self, name: &str, records: Vec<Record>) {
        self.lock()
            .records
            .insert(name.to_ascii_lowercase(), records);
    }

    /// Removes `name`: NXDOMAIN from now on.
    pub fn remove(&self, name: &str) {
        self.lock().records.remove(&name.to_ascii_lowercase());
    }

    /// A questions received for `name` so far (one per lookup of the name).
    pub fn a_questions(&self, name: &str) -> usize {
        let key = format!("{}/{TYPE_A}", name.to_ascii_lowercase());
        self.lock().questions.get(&key).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Zone> {
        self.zone.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(socket: UdpSocket, zone: SharedZone) {
    let mut buf = [0u8; 1500];
    while let Ok((len, peer)) = socket.recv_from(&mut buf).await {
        let query = buf.get(..len).unwrap_or_default();
        let reply = {
            let mut zone = zone.lock().unwrap_or_else(PoisonError::into_inner);
            answer(query, &mut zone)
        };
        if let Some(reply) = reply {
            // A lost reply is the client's retry problem, as with real DNS.
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

/// The reply to one query, or `None` for something that is not a one-question query.
fn answer(query: &[u8], zone: &mut Zone) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    if u16::from_be_bytes([header[4], header[5]]) != 1 {
        return None;
    }
    let (name, qtype_at) = read_name(query, 12)?;
    let qtype = u16::from_be_bytes([*query.get(qtype_at)?, *query.get(qtype_at + 1)?]);
    let question = query.get(12..qtype_at + 4)?; // name, type, class
    *zone.questions.entry(format!("{name}/{qtype}")).or_default() += 1;

    let mut rcode = 0;
    let mut answers: Vec<(u16, Vec<u8>)> = Vec::new();
    match zone.records.get(&name) {
        None => rcode = RCODE_NXDOMAIN,
        Some(records) if records.iter().any(|r| matches!(r, Record::ServFail)) => {
            rcode = RCODE_SERVFAIL
        }
        Some(records) => {
            for record in records {
                match (record, qtype) {
                    (Record::Ip(IpAddr::V4(ip)), TYPE_A) => {
                        answers.push((TYPE_A, ip.octets().to_vec()))
                    }
                    (Record::Ip(IpAddr::V6(ip)), TYPE_AAAA) => {
                        answers.push((TYPE_AAAA, ip.octets().to_vec()))
                    }
                    (Record::Srv { target, port }, TYPE_SRV) => {
                        // priority 0, weight 0, port, uncompressed target.
                        let mut rdata = vec![0, 0, 0, 0];
                        rdata.extend(port.to_be_bytes());
                        write_name(&mut rdata, target);
                        answers.push((TYPE_SRV, rdata));
                    }
                    _ => {} // other types: NOERROR without answers (NODATA)
                }
            }
        }
    }

    let rd = u16::from_be_bytes([header[2], header[3]]) & 0x0100;
    let flags: u16 = 0x8000 | 0x0400 | rd | 0x0080 | rcode; // QR, AA, RD echoed, RA
    let mut reply = Vec::with_capacity(512);
    reply.extend(&header[..2]); // id
    reply.extend(flags.to_be_bytes());
    reply.extend(1u16.to_be_bytes()); // QDCOUNT
    reply.extend(u16::try_from(answers.len()).ok()?.to_be_bytes());
    reply.extend([0, 0, 0, 0]); // NSCOUNT, ARCOUNT
    reply.extend(question);
    for (rtype, rdata) in answers {
        reply.extend([0xC0, 0x0C]); // pointer to the question name
        reply.extend(rtype.to_be_bytes());
        reply.extend(CLASS_IN.to_be_bytes());
        reply.extend(TTL.to_be_bytes());
        reply.extend(u16::try_from(rdata.len()).ok()?.to_be_bytes());
        reply.extend(rdata);
    }
    Some(reply)
}

/// Reads an uncompressed name at `at`: (lowercase, without trailing dot; offset after it).
fn read_name(msg: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*msg.get(at)?);
        at += 1;
        if len == 0 {
            return Some((labels.join(".").to_ascii_lowercase(), at));
        }
        if len > 63 {
            return None; // compression pointers do not occur in questions
        }
        labels.push(String::from_utf8_lossy(msg.get(at..at + len)?).into_owned());
        at += len;
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend(label.as_bytes());
    }
    out.push(0);
}
