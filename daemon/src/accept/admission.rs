//! Who gets a daemon process: the listener's bookkeeping of the clients
//! it serves, per user, and the decision for a new one, made before any
//! work is done for it (no fork, no read).
//!
//! Two pools. Ordinary users share `-c` processes, one user may have `-C`
//! of them at once and open `--rate` new connections a second (with a
//! burst of twice as many). Root and the writers' group have a pool of
//! `-c` of their own, with no per-user or rate limit, so no ordinary user
//! can use up what login programs need.

use crate::cli::args::Limits;
use std::collections::HashMap;
use std::time::Instant;

/// Why a client is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its user has `-C` clients already.
    PerUser,
    /// Its user opens connections faster than `--rate`.
    Rate,
    /// The pool has `-c` clients already.
    Total,
}

impl Refusal {
    /// Why, for the daemon's log: the limit and its option.
    pub fn describe(self, limits: &Limits) -> String {
        match self {
            Refusal::PerUser => format!(
                "it has {} connections already (-C {})",
                limits.per_uid, limits.per_uid
            ),
            Refusal::Rate => format!(
                "it opens connections faster than {} a second (--rate {})",
                limits.rate, limits.rate
            ),
            Refusal::Total => format!(
                "all {} connections are in use (-c {})",
                limits.total, limits.total
            ),
        }
    }
}

/// A client being served.
#[derive(Clone, Copy, Debug)]
struct Client {
    uid: u32,
    privileged: bool,
}

/// One user's connection rate: a token bucket.
#[derive(Clone, Copy, Debug)]
struct Rate {
    tokens: f64,
    at: Instant,
}

/// The listener's view of its clients.
pub struct Admission {
    limits: Limits,
    clients: HashMap<i32, Client>,
    per_uid: HashMap<u32, u32>,
    ordinary: u32,
    privileged: u32,
    rates: HashMap<u32, Rate>,
    logged: HashMap<u32, Instant>,
}

/// A user's refusals are logged at most this often.
pub const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Users whose rate is remembered at once; beyond, the full buckets are
/// forgotten (they are as good as new).
const RATES_KEPT: usize = 4096;

impl Admission {
    /// Nobody served yet.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            clients: HashMap::new(),
            per_uid: HashMap::new(),
            ordinary: 0,
            privileged: 0,
            rates: HashMap::new(),
            logged: HashMap::new(),
        }
    }

    /// Whether a refusal of `uid` is to be logged now (at most once a
    /// [`LOG_EVERY`] per user); if so, it counts as logged.
    pub fn log_due(&mut self, uid: u32, now: Instant) -> bool {
        let recent = |t: &Instant| now.saturating_duration_since(*t) < LOG_EVERY;
        if self.logged.get(&uid).is_some_and(recent) {
            return false;
        }
        self.logged_at(uid, now);
        true
    }

    /// A refusal of `uid` was logged at `now` (by a standby, on its copy).
    pub fn logged_at(&mut self, uid: u32, now: Instant) {
        if self.logged.len() >= RATES_KEPT {
            self.logged
                .retain(|_, t| now.saturating_duration_since(*t) < LOG_EVERY);
        }
        self.logged.insert(uid, now);
    }

    /// Whether a new client of `uid` may be served now.
    pub fn admit(&mut self, uid: u32, privileged: bool, now: Instant) -> Result<(), Refusal> {
        if privileged {
            return if self.privileged < self.limits.total {
                Ok(())
            } else {
                Err(Refusal::Total)
            };
        }
        if self.per_uid.get(&uid).copied().unwrap_or(0) >= self.limits.per_uid {
            return Err(Refusal::PerUser);
        }
        if self.ordinary >= self.limits.total {
            return Err(Refusal::Total);
        }
        let rate = f64::from(self.limits.rate);
        let burst = 2.0 * rate;
        if self.rates.len() >= RATES_KEPT {
            self.rates
                .retain(|_, r| r.tokens + now.duration_since(r.at).as_secs_f64() * rate < burst);
        }
        let r = self.rates.entry(uid).or_insert(Rate {
            tokens: burst,
            at: now,
        });
        r.tokens = (r.tokens + now.saturating_duration_since(r.at).as_secs_f64() * rate).min(burst);
        r.at = now;
        if r.tokens < 1.0 {
            return Err(Refusal::Rate);
        }
        r.tokens -= 1.0;
        Ok(())
    }

    /// Process `pid` now serves a client of `uid`.
    pub fn started(&mut self, pid: i32, uid: u32, privileged: bool) {
        self.clients.insert(pid, Client { uid, privileged });
        if privileged {
            self.privileged += 1;
        } else {
            self.ordinary += 1;
            *self.per_uid.entry(uid).or_insert(0) += 1;
        }
    }

    /// Process `pid` has ended (it may not have served anyone).
    pub fn ended(&mut self, pid: i32) {
        let Some(c) = self.clients.remove(&pid) else {
            return;
        };
        if c.privileged {
            self.privileged -= 1;
            return;
        }
        self.ordinary -= 1;
        if let Some(n) = self.per_uid.get_mut(&c.uid) {
            *n -= 1;
            if *n == 0 {
                self.per_uid.remove(&c.uid);
            }
        }
    }

    /// Clients being served: (ordinary, privileged).
    pub fn served(&self) -> (u32, u32) {
        (self.ordinary, self.privileged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const L: Limits = Limits {
        total: 5,
        per_uid: 2,
        rate: 10,
    };

    #[test]
    fn one_user_gets_c_capital_at_once() {
        let mut a = Admission::new(L);
        let t = Instant::now();
        a.admit(1000, false, t).unwrap();
        a.started(1, 1000, false);
        a.admit(1000, false, t).unwrap();
        a.started(2, 1000, false);
        assert_eq!(a.admit(1000, false, t), Err(Refusal::PerUser));
        // Another user, and root, are not held back by it.
        a.admit(1001, false, t).unwrap();
        a.admit(0, true, t).unwrap();
        a.ended(1);
        a.admit(1000, false, t).unwrap();
        // An unknown pid (a standby that died idle) changes nothing.
        a.ended(77);
        assert_eq!(a.served(), (1, 0));
    }

    #[test]
    fn ordinary_and_privileged_pools_are_apart() {
        let mut a = Admission::new(L);
        let t = Instant::now();
        for (pid, uid) in (1..=5).zip(1000..) {
            a.admit(uid, false, t).unwrap();
            a.started(pid, uid, false);
        }
        assert_eq!(a.admit(2000, false, t), Err(Refusal::Total));
        for pid in 10..15 {
            a.admit(0, true, t).unwrap();
            a.started(pid, 0, true);
        }
        assert_eq!(a.admit(0, true, t), Err(Refusal::Total));
        assert_eq!(a.served(), (5, 5));
        a.ended(3);
        a.admit(2000, false, t).unwrap();
    }

    #[test]
    fn a_users_refusals_are_logged_once_a_minute() {
        let mut a = Admission::new(L);
        let t = Instant::now();
        assert!(a.log_due(1000, t));
        assert!(!a.log_due(1000, t + Duration::from_secs(59)));
        assert!(a.log_due(1001, t));
        assert!(a.log_due(1000, t + LOG_EVERY));
        // What a standby logged counts.
        a.logged_at(1002, t);
        assert!(!a.log_due(1002, t + Duration::from_secs(1)));
    }

    #[test]
    fn new_connections_per_second() {
        let mut a = Admission::new(L);
        let t = Instant::now();
        // A burst of twice the rate, then the rate.
        for _ in 0..20 {
            a.admit(1000, false, t).unwrap();
        }
        assert_eq!(a.admit(1000, false, t), Err(Refusal::Rate));
        a.admit(1001, false, t).unwrap();
        let later = t + Duration::from_millis(100);
        a.admit(1000, false, later).unwrap();
        assert_eq!(a.admit(1000, false, later), Err(Refusal::Rate));
        // Privileged peers have no rate.
        for _ in 0..100 {
            a.admit(0, true, t).unwrap();
        }
    }
}
