//! Runs of ids in the order an operation took them.
//!
//! A delete lists the characters it takes, in order: unit `i` of the
//! operation takes the `i`-th. Deleting forwards takes ids upwards (one
//! ascending range); backspacing takes one character after another
//! leftwards, which here is one descending run rather than one range per
//! keystroke. The log keeps delete targets this way, and the history
//! encoding writes them this way.

/// `len` ids of `replica` from `first` upwards, or downwards when
/// `descending`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdRun<R> {
    pub replica: R,
    /// The first id taken: the lowest of an ascending run, the highest of
    /// a descending one.
    pub first: u64,
    pub len: u64,
    pub descending: bool,
}

impl<R: Copy + Eq> IdRun<R> {
    /// The lowest id of the run.
    pub fn lowest(&self) -> u64 {
        match self.descending {
            true => self.first + 1 - self.len,
            false => self.first,
        }
    }

    /// The run as ascending ranges `(replica, seq, len)` in unit order (a
    /// descending run is one range per id).
    pub fn ranges(self) -> impl Iterator<Item = (R, u64, u64)> {
        let ascending = (!self.descending).then_some((self.replica, self.first, self.len));
        let singles = if self.descending { self.len } else { 0 };
        ascending.into_iter().chain((0..singles).map(move |i| (self.replica, self.first - i, 1)))
    }

    /// The ids of units `from..from + len` of this run, as one ascending
    /// range `(seq, len)`.
    fn slice(&self, from: u64, len: u64) -> (u64, u64) {
        match self.descending {
            false => (self.first + from, len),
            true => (self.first + 1 - from - len, len),
        }
    }
}

/// Appends ids `seq..seq + len` of `replica`, growing the last run when
/// they continue it (upwards, or one id downwards).
pub(crate) fn push<R: Copy + Eq>(runs: &mut Vec<IdRun<R>>, replica: R, seq: u64, len: u64) {
    if let Some(last) = runs.last_mut().filter(|last| last.replica == replica) {
        if !last.descending && last.first + last.len == seq {
            last.len += len;
            return;
        }
        if (last.descending || last.len == 1) && len == 1 && seq + 1 == last.lowest() {
            last.descending = true;
            last.len += 1;
            return;
        }
    }
    runs.push(IdRun { replica, first: seq, len, descending: false });
}

/// The ids taken by units `from..from + len`, as ascending ranges
/// `(replica, seq, len)`.
pub(crate) fn slice<R: Copy + Eq>(runs: &[IdRun<R>], mut from: u64, mut len: u64) -> Vec<(R, u64, u64)> {
    let mut out = Vec::new();
    for run in runs {
        if len == 0 {
            break;
        }
        if from >= run.len {
            from -= run.len;
            continue;
        }
        let take = (run.len - from).min(len);
        let (seq, n) = run.slice(from, take);
        out.push((run.replica, seq, n));
        from = 0;
        len -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Units as single ids, in order.
    fn singles(ranges: impl IntoIterator<Item = (u32, u64, u64)>) -> Vec<(u32, u64)> {
        ranges.into_iter().flat_map(|(r, seq, len)| (0..len).map(move |i| (r, seq + i))).collect()
    }

    proptest! {
        #[test]
        fn runs_keep_units_in_order(
            steps in prop::collection::vec((0u32..2, 0u64..40, 1u64..4), 1..60),
            from in 0u64..80,
            len in 0u64..80,
        ) {
            let mut runs = Vec::new();
            for &(r, seq, n) in &steps {
                push(&mut runs, r, seq, n);
            }
            let expected = singles(steps.iter().copied());
            prop_assert_eq!(singles(runs.iter().flat_map(|r| r.ranges())), expected.clone());
            let mut sliced = singles(slice(&runs, from, len));
            sliced.sort();
            let mut want: Vec<(u32, u64)> = expected.iter().copied().skip(from as usize).take(len as usize).collect();
            want.sort();
            prop_assert_eq!(sliced, want);
        }
    }
}
