//! The counts a scan keeps: per signature (with a time histogram, first and
//! last occurrence) and per upstream, in memory that does not grow with the
//! log.
//!
//! The histogram's bucket width is not known before the scan (the window's
//! end is the log's last line), so it starts at one minute and widens along
//! a ladder of widths, each a multiple of the one before (1 min, 5 min,
//! 15 min, 1 h, 6 h, 1 d, 7 d, then doubling), whenever it would need more
//! than [`MAX_BUCKETS`] buckets. Buckets are aligned to their width, so
//! widening merges whole buckets and stays exact. Parallel scans of parts
//! of a log keep a tally each and [`Tally::merge`] them.

use std::collections::HashMap;

use super::hash::Keyed;
use crate::logs::Timestamp;
use crate::logs::signature::Signature;

/// Buckets per histogram before it widens.
const MAX_BUCKETS: usize = 1500;
/// Distinct upstreams kept; the rest count together as [`OTHER_UPSTREAMS`].
/// Variables in `proxy_pass` can make the upstream a client's Host header.
const MAX_UPSTREAMS: usize = 1000;
pub const OTHER_UPSTREAMS: &str = "(others)";

/// The width after `width` on the ladder.
fn wider(width: i64) -> i64 {
    match width {
        60 => 300,
        300 => 900,
        900 => 3600,
        3600 => 21_600,
        21_600 => 86_400,
        86_400 => 604_800,
        w => w.saturating_mul(2),
    }
}

/// The width a histogram spanning `span_secs` is shown with: 1 min up to an
/// hour, 15 min up to a day, 1 h up to a week, 6 h up to a month, 1 d beyond.
pub fn width_for_span(span_secs: i64) -> i64 {
    const HOUR: i64 = 3600;
    const DAY: i64 = 86_400;
    [
        (HOUR, 60),
        (DAY, 900),
        (7 * DAY, HOUR),
        (31 * DAY, 6 * HOUR),
    ]
    .iter()
    .find(|(span, _)| span_secs <= *span)
    .map_or(DAY, |(_, width)| *width)
}

/// Counts per time bucket from `origin`; bucket `i` covers
/// `[start() + i * width, start() + (i + 1) * width)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    origin: i64,
    width: i64,
    counts: Vec<u32>,
}

impl Histogram {
    /// An empty histogram of one-minute buckets for times from `origin`.
    pub fn new(origin: Timestamp) -> Histogram {
        Histogram {
            origin: origin.unix(),
            width: 60,
            counts: Vec::new(),
        }
    }

    /// The start of the first bucket: the origin, rounded down to the width.
    pub fn start(&self) -> Timestamp {
        Timestamp::from_unix(self.origin.div_euclid(self.width) * self.width)
    }

    pub fn width(&self) -> i64 {
        self.width
    }

    /// Counts one event at `t`; times before the origin count in the first bucket.
    pub fn add(&mut self, t: Timestamp) {
        let i = loop {
            let i = self.index(t);
            if i < MAX_BUCKETS {
                break i;
            }
            self.widen();
        };
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    fn index(&self, t: Timestamp) -> usize {
        let offset = (t.unix() - self.start().unix()).max(0) / self.width;
        usize::try_from(offset).unwrap_or(usize::MAX)
    }

    /// One step up the ladder, merging the buckets that now share one.
    fn widen(&mut self) {
        let old_start = self.start().unix();
        let old_width = self.width;
        self.width = wider(self.width);
        let mut counts = Vec::with_capacity(self.counts.len());
        for (i, n) in self.counts.iter().enumerate() {
            let t = Timestamp::from_unix(old_start + i as i64 * old_width);
            let j = self.index(t);
            if counts.len() <= j {
                counts.resize(j + 1, 0);
            }
            counts[j] += n;
        }
        self.counts = counts;
    }

    /// Widens until the width is at least `width` (a width on the ladder).
    pub fn widen_to(&mut self, width: i64) {
        while self.width < width {
            self.widen();
        }
    }

    /// The counts of every bucket up to the one holding `end`, zeros included.
    pub fn buckets_until(&self, end: Timestamp) -> Vec<u32> {
        let len = self.index(end).saturating_add(1).min(MAX_BUCKETS);
        let mut counts = self.counts.clone();
        counts.resize(len.max(counts.len()), 0);
        counts
    }

    fn merge(&mut self, mut other: Histogram) {
        self.widen_to(other.width);
        other.widen_to(self.width);
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine = mine.saturating_add(theirs);
        }
    }
}

/// What was seen of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCount {
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    pub histogram: Histogram,
}

/// Everything a scan counts.
#[derive(Debug, Clone)]
pub struct Tally {
    origin: Timestamp,
    /// Indexed like [`Signature::ALL`].
    signatures: Vec<Option<SignatureCount>>,
    upstreams: Upstreams,
    /// The latest timestamp of any line read, failure or not.
    pub last_line: Option<Timestamp>,
}

impl Tally {
    /// An empty tally whose histograms start at `origin`.
    pub fn new(origin: Timestamp) -> Tally {
        Tally {
            origin,
            signatures: vec![None; Signature::ALL.len()],
            upstreams: Upstreams::default(),
            last_line: None,
        }
    }

    /// An empty tally for the part of the logs after `self`'s: it knows
    /// `self`'s upstream names, so that it gives a row to the same names one
    /// pass over both parts would (see [`Upstreams`]).
    pub fn seeded(&self) -> Tally {
        Tally {
            upstreams: self.upstreams.seeded(),
            ..Tally::new(self.origin)
        }
    }

    /// Whether some upstream names found no row and count as
    /// [`OTHER_UPSTREAMS`]: merged after another part's tally, this one
    /// could then differ from one pass over both (see [`Upstreams`]).
    pub fn upstreams_overflowed(&self) -> bool {
        self.upstreams.rows.contains_key(OTHER_UPSTREAMS)
    }

    /// Counts one failure of `sig` at `time` at `upstream` (sanitized text).
    pub fn add(&mut self, sig: Signature, time: Timestamp, upstream: &str) {
        let Some(slot) = Signature::ALL
            .iter()
            .position(|s| *s == sig)
            .and_then(|i| self.signatures.get_mut(i))
        else {
            return;
        };
        let seen = slot.get_or_insert_with(|| SignatureCount {
            count: 0,
            first: time,
            last: time,
            histogram: Histogram::new(self.origin),
        });
        seen.count += 1;
        seen.first = seen.first.min(time);
        seen.last = seen.last.max(time);
        seen.histogram.add(time);
        self.upstreams.add(upstream, 1);
    }

    /// Adds `other`'s counts: a tally of the part of the logs after
    /// `self`'s, with the same origin.
    pub fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.signatures.iter_mut().zip(other.signatures) {
            let Some(theirs) = theirs else { continue };
            match mine {
                None => *mine = Some(theirs),
                Some(m) => {
                    m.count += theirs.count;
                    m.first = m.first.min(theirs.first);
                    m.last = m.last.max(theirs.last);
                    m.histogram.merge(theirs.histogram);
                }
            }
        }
        self.upstreams.merge(other.upstreams);
        self.last_line = self.last_line.max(other.last_line);
    }

    /// The time of the latest failure counted.
    pub fn last_failure(&self) -> Option<Timestamp> {
        self.signatures.iter().flatten().map(|s| s.last).max()
    }

    /// Failures counted, all signatures together.
    pub fn total(&self) -> u64 {
        self.signatures.iter().flatten().map(|s| s.count).sum()
    }

    /// The signatures seen, most frequent first (ties: latest first), every
    /// histogram at one common width: the widest any needed, or the one the
    /// span from the origin to `end` calls for.
    pub fn signatures(&self, end: Timestamp) -> Vec<(Signature, SignatureCount)> {
        let mut seen: Vec<(Signature, SignatureCount)> = Signature::ALL
            .iter()
            .zip(&self.signatures)
            .filter_map(|(sig, count)| Some((*sig, count.clone()?)))
            .collect();
        let span = end.unix() - self.origin.unix();
        let width = seen
            .iter()
            .map(|(_, c)| c.histogram.width())
            .fold(width_for_span(span), i64::max);
        for (_, count) in &mut seen {
            count.histogram.widen_to(width);
        }
        seen.sort_by_key(|(_, c)| std::cmp::Reverse((c.count, c.last)));
        seen
    }

    /// Failures per upstream, most first (ties by name).
    pub fn upstreams(&self) -> Vec<(String, u64)> {
        let mut all: Vec<(String, u64)> = self
            .upstreams
            .rows
            .iter()
            .map(|(k, (n, _))| (k.clone(), *n))
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all
    }
}

/// Failures per upstream name in bounded memory: the first
/// [`MAX_UPSTREAMS`] names seen get a row each, later ones share
/// [`OTHER_UPSTREAMS`]. Each row remembers when its name was first seen, so
/// that merging the tally of a later part of the log adds its names in the
/// order one pass would have met them, and gives rows to the same names.
/// That holds when the later part found room for all its names; when it
/// did not, it could not know which of its names the earlier parts already
/// had a row for, and its caller counts it again after them (`read`).
#[derive(Debug, Clone, Default)]
struct Upstreams {
    /// Name → failures, and the rank of its first sighting.
    rows: HashMap<String, (u64, u64), Keyed>,
    next_rank: u64,
}

impl Upstreams {
    fn add(&mut self, name: &str, n: u64) {
        if let Some((count, _)) = self.rows.get_mut(name) {
            *count += n;
            return;
        }
        let key = if self.rows.len() < MAX_UPSTREAMS {
            name
        } else {
            OTHER_UPSTREAMS
        };
        let rank = self.next_rank;
        self.rows.entry(key.to_owned()).or_insert((0, rank)).0 += n;
        self.next_rank += 1;
    }

    /// Adds `later`'s rows in the order their names were first seen.
    fn merge(&mut self, later: Upstreams) {
        let mut rows: Vec<(String, (u64, u64))> = later.rows.into_iter().collect();
        rows.sort_unstable_by_key(|(_, (_, rank))| *rank);
        for (name, (n, _)) in rows {
            self.add(&name, n);
        }
    }

    /// The same names, in the same order, no failure counted yet.
    fn seeded(&self) -> Upstreams {
        Upstreams {
            rows: self
                .rows
                .iter()
                .map(|(name, (_, rank))| (name.clone(), (0, *rank)))
                .collect(),
            next_rank: self.next_rank,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(1_795_555_080 + secs) // 21:18:00, a whole minute
    }

    #[test]
    fn histogram_counts_per_minute_from_its_origin() {
        let mut h = Histogram::new(at(0));
        for s in [0, 59, 60, 185] {
            h.add(at(s));
        }
        assert_eq!(h.start(), at(0));
        assert_eq!(h.buckets_until(at(300)), [2, 1, 0, 1, 0, 0]);
    }

    #[test]
    fn histogram_widens_when_the_span_outgrows_it_and_keeps_every_count() {
        let mut h = Histogram::new(at(0));
        h.add(at(0));
        h.add(at(61));
        h.add(at(2 * 86_400));
        assert_eq!(h.width(), 300);
        let buckets = h.buckets_until(at(2 * 86_400));
        assert_eq!(buckets.iter().sum::<u32>(), 3);
        assert!(buckets.len() <= MAX_BUCKETS);
        assert_eq!(buckets[0], 2);
    }

    #[test]
    fn widening_keeps_buckets_aligned_to_the_width() {
        let mut h = Histogram::new(at(7 * 60 + 30));
        h.add(at(8 * 60));
        h.widen_to(900);
        assert_eq!(h.start().unix() % 900, 0);
        assert_eq!(h.buckets_until(at(8 * 60)), [1]);
    }

    #[test]
    fn times_before_the_origin_count_in_the_first_bucket() {
        let mut h = Histogram::new(at(600));
        h.add(at(0));
        assert_eq!(h.buckets_until(at(600)), [1]);
    }

    #[test]
    fn width_follows_the_span() {
        assert_eq!(width_for_span(3600), 60);
        assert_eq!(width_for_span(3601), 900);
        assert_eq!(width_for_span(86_400), 900);
        assert_eq!(width_for_span(2 * 86_400), 3600);
        assert_eq!(width_for_span(365 * 86_400), 86_400);
    }

    #[test]
    fn ladder_widths_divide_each_other() {
        let mut w = 60;
        for _ in 0..12 {
            assert_eq!(wider(w) % w, 0, "{w}");
            w = wider(w);
        }
    }

    #[test]
    fn tally_keeps_first_last_and_count_per_signature() {
        let mut t = Tally::new(at(0));
        t.add(Signature::ConnRefusedTcp, at(120), "127.0.0.1:9001");
        t.add(Signature::ConnRefusedTcp, at(60), "127.0.0.1:9001");
        t.add(Signature::ReadHeaderTimeout, at(30), "unix:/run/php.sock");
        let sigs = t.signatures(at(180));
        assert_eq!(sigs[0].0, Signature::ConnRefusedTcp);
        assert_eq!(
            (sigs[0].1.count, sigs[0].1.first, sigs[0].1.last),
            (2, at(60), at(120))
        );
        assert_eq!(t.total(), 3);
        assert_eq!(t.upstreams()[0], ("127.0.0.1:9001".to_owned(), 2));
    }

    #[test]
    fn merged_tallies_add_up_across_widths() {
        let (mut a, mut b) = (Tally::new(at(0)), Tally::new(at(0)));
        a.add(Signature::ResetHeader, at(10), "x");
        b.add(Signature::ResetHeader, at(3 * 86_400), "x");
        b.add(Signature::SendReset, at(20), "y");
        a.merge(b);
        assert_eq!(a.total(), 3);
        let sigs = a.signatures(at(3 * 86_400));
        let reset = &sigs[0].1;
        assert_eq!(
            (reset.count, reset.first, reset.last),
            (2, at(10), at(3 * 86_400))
        );
        assert_eq!(sigs[0].1.histogram.width(), sigs[1].1.histogram.width());
        assert_eq!(
            reset
                .histogram
                .buckets_until(at(3 * 86_400))
                .iter()
                .sum::<u32>(),
            2
        );
    }

    #[test]
    fn signatures_share_the_width_the_span_calls_for() {
        let mut t = Tally::new(at(0));
        t.add(Signature::ResetHeader, at(10), "x");
        let sigs = t.signatures(at(5 * 3600));
        assert_eq!(sigs[0].1.histogram.width(), 900);
    }

    #[test]
    fn upstreams_beyond_the_cap_count_together() {
        let mut t = Tally::new(at(0));
        for i in 0..MAX_UPSTREAMS + 5 {
            t.add(Signature::ConnRefusedTcp, at(0), &format!("host{i}"));
        }
        let ups = t.upstreams();
        assert_eq!(ups.len(), MAX_UPSTREAMS + 1);
        assert_eq!(ups[0], (OTHER_UPSTREAMS.to_owned(), 5));
    }
}
