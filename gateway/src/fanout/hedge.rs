//! Replica hedging. The endpoints of one request that hold the same shard — the same label
//! sets once the replica labels are removed — are replicas of each other: a query needs only
//! one of them. One that keeps the request waiting (no frame) while a replica of it makes
//! progress is cut after a grace, counted from that replica's progress, and the answer is
//! built from what arrived. The grace adapts to the laggard: a multiple of its usual time to
//! a first frame, never more than `--store.replica-grace`. A replica cut once gets only a
//! moment (`SUSPECT_GRACE`) until its Info answers again: a frozen replica costs one grace, not
//! one per request until the Info poll marks it unhealthy. A shard whose every replica is slow
//! is not hedged: it waits up to the response timeout.

use super::endpoints::Endpoint;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store_api::{Labels, StoreInfo};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The grace is this multiple of the laggard's usual time to its first frame...
const GRACE_LATENCIES: u32 = 10;
/// ... and never shorter than this: a replica that usually answers in milliseconds may still
/// be held up a moment on a loaded machine, and cutting it loses what it fills in (the gaps of
/// the other replica).
const MIN_GRACE: Duration = Duration::from_secs(1);
/// The grace of a replica cut since its last good Info.
const SUSPECT_GRACE: Duration = Duration::from_millis(100);

/// The replicas of one shard in one request: when each last made progress.
#[derive(Debug)]
struct Shard {
    members: Mutex<Vec<(Arc<str>, Option<Instant>)>>,
    progress: Notify,
}

/// One endpoint's place among its replicas.
#[derive(Clone, Debug)]
pub struct Member {
    shard: Arc<Shard>,
    index: usize,
}

impl Member {
    /// The endpoint received a frame, or finished its answer.
    pub fn progressed(&self) {
        if let Ok(mut members) = self.shard.members.lock() {
            members[self.index].1 = Some(Instant::now());
        }
        self.shard.progress.notify_waiters();
    }

    /// When this endpoint last progressed in this request.
    fn last_progress(&self) -> Option<Instant> {
        self.shard.members.lock().ok()?[self.index].1
    }

    /// The earliest progress of a replica after `since` (any, with `None`), and that
    /// replica's address.
    fn peer_progress_after(&self, since: Option<Instant>) -> Option<(Instant, Arc<str>)> {
        let members = self.shard.members.lock().ok()?;
        members
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.index)
            .filter_map(|(_, (address, at))| {
                at.filter(|t| since.is_none_or(|s| *t > s))
                    .map(|t| (t, address.clone()))
            })
            .min_by_key(|(t, _)| *t)
    }
}

/// Each endpoint's shard membership (None where no replica of it is in the request, or
/// without replica labels).
pub fn shards(
    endpoints: &[(Arc<Endpoint>, StoreInfo)],
    replica_labels: &[String],
) -> Vec<Option<Member>> {
    let key = |info: &StoreInfo| -> Option<Vec<Labels>> {
        if replica_labels.is_empty() || info.label_sets.is_empty() {
            return None;
        }
        let mut sets: Vec<Labels> = info
            .label_sets
            .iter()
            .map(|set| {
                let mut set = set.clone();
                set.retain(|l| !replica_labels.contains(&l.name));
                set
            })
            .collect();
        sets.sort();
        sets.dedup();
        Some(sets)
    };
    let keys: Vec<Option<Vec<Labels>>> = endpoints.iter().map(|(_, info)| key(info)).collect();
    let mut members: Vec<Option<Member>> = vec![None; endpoints.len()];
    for i in 0..endpoints.len() {
        if members[i].is_some() || keys[i].is_none() {
            continue;
        }
        let group: Vec<usize> = (i..endpoints.len())
            .filter(|&j| keys[j] == keys[i])
            .collect();
        if group.len() < 2 {
            continue;
        }
        let shard = Arc::new(Shard {
            members: Mutex::new(
                group
                    .iter()
                    .map(|&j| (Arc::from(endpoints[j].0.address.as_str()), None))
                    .collect(),
            ),
            progress: Notify::new(),
        });
        for (index, &j) in group.iter().enumerate() {
            members[j] = Some(Member {
                shard: shard.clone(),
                index,
            });
        }
    }
    members
}

/// How long `endpoint` may keep a request waiting once a replica of it progressed.
pub fn grace(endpoint: &Endpoint, max: Duration) -> Duration {
    if endpoint.cut_since_info() {
        return SUSPECT_GRACE.min(max);
    }
    endpoint
        .usual_first_frame()
        .map_or(max, |usual| (usual * GRACE_LATENCIES).max(MIN_GRACE))
        .min(max)
}

/// Records that `endpoint` was cut after `grace` while `replica` answered; the warning.
pub fn cut(endpoint: &Endpoint, grace: Duration, replica: &str) -> String {
    endpoint.mark_cut();
    format!("cut: no data for {grace:?} while its replica {replica} answered")
}

/// What a wait on an endpoint came to.
pub enum Waited<T> {
    Done(T),
    /// The response deadline passed.
    Deadline,
    /// Cut: this replica progressed and the grace ran out; its address.
    Cut(Arc<str>),
}

/// Awaits `future` (the endpoint's next step) until `deadline`, or for a replica only until
/// the grace after a replica's progress since this one's own last progress (even if that
/// was before this wait began: a reader scheduled late gets no extra time).
pub async fn wait<T>(
    future: impl Future<Output = T>,
    deadline: Instant,
    member: Option<&Member>,
    grace: Duration,
) -> Waited<T> {
    tokio::pin!(future);
    let Some(member) = member else {
        return match tokio::time::timeout_at(deadline, future).await {
            Ok(value) => Waited::Done(value),
            Err(_) => Waited::Deadline,
        };
    };
    let since = member.last_progress();
    loop {
        // Listening before looking, so that progress in between is not missed.
        let progress = member.shard.progress.notified();
        tokio::pin!(progress);
        progress.as_mut().enable();
        let peer = member.peer_progress_after(since);
        let until = peer
            .as_ref()
            .map_or(deadline, |(at, _)| deadline.min(*at + grace));
        tokio::select! {
            value = &mut future => return Waited::Done(value),
            () = tokio::time::sleep_until(until) => {
                return match peer {
                    Some((_, address)) if Instant::now() < deadline => Waited::Cut(address),
                    _ => Waited::Deadline,
                };
            }
            () = &mut progress, if peer.is_none() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_api::Component;

    fn info(sets: &[&[(&str, &str)]]) -> StoreInfo {
        StoreInfo {
            component: Component::Sidecar,
            label_sets: sets
                .iter()
                .map(|s| Labels::from_pairs(s.iter().copied()))
                .collect(),
            min_time: 0,
            max_time: 1,
            supports_without_replica_labels: true,
            serves_metadata: false,
        }
    }

    fn endpoint(address: &str) -> Arc<Endpoint> {
        Arc::new(Endpoint::new(address, None).unwrap())
    }

    #[tokio::test]
    async fn replicas_are_the_same_label_sets_without_the_replica_labels() {
        let endpoints = vec![
            (
                endpoint("a:1"),
                info(&[&[("shard", "0"), ("replica", "a")]]),
            ),
            (
                endpoint("b:1"),
                info(&[&[("shard", "0"), ("replica", "b")]]),
            ),
            (
                endpoint("c:1"),
                info(&[&[("shard", "1"), ("replica", "a")]]),
            ),
            (endpoint("d:1"), info(&[])),
        ];
        let members = shards(&endpoints, &["replica".into()]);
        let (a, b) = (members[0].as_ref().unwrap(), members[1].as_ref().unwrap());
        assert!(Arc::ptr_eq(&a.shard, &b.shard));
        assert!(members[2].is_none(), "shard 1 has one replica here");
        assert!(members[3].is_none(), "no label sets: may hold anything");
        assert!(
            shards(&endpoints, &[]).iter().all(Option::is_none),
            "no dedup: no replicas"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_laggard_is_cut_a_grace_after_its_replica_progressed() {
        let endpoints = vec![
            (endpoint("a:1"), info(&[&[("replica", "a"), ("s", "0")]])),
            (endpoint("b:1"), info(&[&[("replica", "b"), ("s", "0")]])),
        ];
        let members = shards(&endpoints, &["replica".into()]);
        let (a, b) = (members[0].clone().unwrap(), members[1].clone().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let grace = Duration::from_secs(2);
        let started = Instant::now();
        let frozen = tokio::spawn(async move {
            wait(std::future::pending::<()>(), deadline, Some(&b), grace).await
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        a.progressed();
        match frozen.await.unwrap() {
            Waited::Cut(address) => assert_eq!(&*address, "a:1"),
            _ => panic!("not cut"),
        }
        assert_eq!(started.elapsed(), Duration::from_secs(3), "1 s + the grace");
        // Alone (no replica progressing), the wait lasts to the deadline.
        let alone = wait(std::future::pending::<()>(), deadline, Some(&a), grace).await;
        assert!(matches!(alone, Waited::Deadline));
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }
}
