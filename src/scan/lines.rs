//! A log's physical lines, read forward in large chunks.
//!
//! One buffer of [`CHUNK`] bytes is refilled from the reader; its complete
//! lines are handed out together as one block, a slice of the buffer, so
//! the common case copies nothing and the reader of a block can look at the
//! line after the one it is on (`count` decides whether an entry is one line
//! that way). Memory stays bounded whatever the input: a line longer than
//! [`LINE_CAP`] keeps its first and last halves around a marker saying how
//! much was cut (the timestamp is at the start, the request context at the
//! end), as `logs::window` does when it reads backwards, and comes as a
//! block of its own.

use std::io::{self, Read};
use std::ops::ControlFlow;

/// Bytes read per refill: they stay in a core's L2 cache.
pub const CHUNK: usize = 256 << 10;
/// A page: reads land in the buffer at the same offset within a page as in
/// the file, which makes the kernel's copy a third cheaper than across
/// misaligned addresses.
const ALIGN: usize = 4096;
/// Longest line handed out whole.
pub const LINE_CAP: usize = 64 * 1024;
const HALF: usize = LINE_CAP / 2;

/// Calls `f(offset, line)` for every line of `reader`, in order, without its
/// `\n`; `offset` is where the line starts, counting `reader`'s first byte as
/// `first_offset`. A last line without `\n` is included. Stops early when `f`
/// breaks. (What `count` makes of the blocks, line by line: the tests
/// state the blocks' contract with it.)
#[cfg(test)]
pub fn for_each_line<R, F>(reader: R, first_offset: u64, mut f: F) -> io::Result<()>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    for_each_block(reader, first_offset, |at, block| {
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', block) {
            f(at + start as u64, &block[start..end])?;
            start = end + 1;
        }
        if start < block.len() {
            f(at + start as u64, &block[start..])?;
        }
        ControlFlow::Continue(())
    })
}

/// Calls `f(offset, block)` for consecutive blocks of whole lines of
/// `reader`, in order: each line of a block ends with `\n` but the last
/// line of the input when it has none, and `offset` is where the block
/// starts (counting `reader`'s first byte as `first_offset`), so a line at
/// `i` in the block starts at `offset + i`. A line over [`LINE_CAP`] comes
/// capped, in a block of its own (its `\n` kept), whose offset is where the
/// line starts. Blocks are never empty. Stops early when `f` breaks.
pub fn for_each_block<R, F>(mut reader: R, first_offset: u64, mut f: F) -> io::Result<()>
where
    R: Read,
    F: FnMut(u64, &[u8]) -> ControlFlow<()>,
{
    let mut buf = vec![0; CHUNK + ALIGN];
    let address = buf.as_ptr() as usize;
    // buf[begin..filled] holds the unfinished line (or, when too long, its
    // end; its start is in `long`); buf[i] is the byte at offset base + i,
    // wrapping: base may stand for a point before offset 0.
    let mut begin = page_offset(address, first_offset);
    let mut filled = begin;
    let mut base = first_offset.wrapping_sub(begin as u64);
    let mut long: Option<LongLine> = None;
    loop {
        let searched = filled;
        let read = fill(&mut reader, &mut buf[filled..])?;
        filled += read;
        // The bytes before `searched` hold no `\n`.
        if let Some(last) = memchr::memrchr(b'\n', &buf[searched..filled]) {
            let last = searched + last;
            if let Some(l) = long.take() {
                // The first `\n` ends the long line.
                let end =
                    memchr::memchr(b'\n', &buf[searched..filled]).map_or(last, |i| searched + i);
                let offset = l.offset;
                let mut line = l.finish(&buf[begin..end]);
                line.push(b'\n');
                if f(offset, &line).is_break() {
                    return Ok(());
                }
                begin = end + 1;
            }
            if begin <= last && f(base.wrapping_add(begin as u64), &buf[begin..=last]).is_break() {
                return Ok(());
            }
            begin = last + 1;
        }
        if read == 0 {
            match long.take() {
                Some(l) => {
                    let offset = l.offset;
                    let _ = f(offset, &l.finish(&buf[begin..filled]));
                }
                None if begin < filled => {
                    let _ = f(base.wrapping_add(begin as u64), &buf[begin..filled]);
                }
                None => {}
            }
            return Ok(());
        }
        if long.is_none() && filled - begin > LINE_CAP {
            long = Some(LongLine {
                offset: base.wrapping_add(begin as u64),
                head: buf[begin..begin + HALF].to_vec(),
                cut: 0,
            });
            begin += HALF;
        }
        if let Some(l) = &mut long {
            // Only the last HALF bytes can end up in the line.
            let excess = (filled - begin).saturating_sub(HALF);
            l.cut += excess as u64;
            begin += excess;
        }
        // The unfinished bytes move to the start of the buffer, at their
        // offset within a page, and the next read follows them.
        let offset = base.wrapping_add(begin as u64);
        let to = page_offset(address, offset);
        buf.copy_within(begin..filled, to);
        filled = to + (filled - begin);
        begin = to;
        base = offset.wrapping_sub(to as u64);
    }
}

/// The `\n`s of a block, in order, from a bit mask of the block made
/// first, 64 bytes a word, in one pass of vector comparisons: a search per
/// line (a few hundred bytes) paid its start-up cost on every line.
pub struct Newlines<'a> {
    /// A bit per `\n`, the lowest bit of word `i` for byte `64 * i`.
    masks: &'a [u64],
    /// The word `mask` came from.
    word: usize,
    /// Its bits not yet handed out.
    mask: u64,
}

impl<'a> Newlines<'a> {
    /// The `\n`s of `bytes`, their mask made in `masks` (a buffer reused
    /// from block to block).
    pub fn new(bytes: &[u8], masks: &'a mut Vec<u64>) -> Newlines<'a> {
        newline_masks(bytes, masks);
        Newlines {
            mask: masks.first().copied().unwrap_or(0),
            masks,
            word: 0,
        }
    }
}

impl Iterator for Newlines<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.word += 1;
            self.mask = *self.masks.get(self.word)?;
        }
        let at = self.word * 64 + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

/// Sets `masks` to a bit per `\n` of `bytes`, 64 bytes a word.
fn newline_masks(bytes: &[u8], masks: &mut Vec<u64>) {
    let chunks = bytes.chunks_exact(64);
    let tail = chunks.remainder();
    // Every word is written below: only words the buffer lacks are zeroed.
    masks.resize(chunks.len(), 0);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, just checked.
        unsafe { avx2_masks(chunks, masks) };
    } else {
        byte_masks(chunks, masks);
    }
    #[cfg(not(target_arch = "x86_64"))]
    byte_masks(chunks, masks);
    if !tail.is_empty() {
        masks.push(byte_mask(tail));
    }
}

fn byte_masks(chunks: std::slice::ChunksExact<u8>, masks: &mut [u64]) {
    for (mask, chunk) in masks.iter_mut().zip(chunks) {
        *mask = byte_mask(chunk);
    }
}

/// The mask of up to 64 bytes, a byte at a time (the end of a block, and
/// processors without AVX2).
fn byte_mask(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .fold(0, |mask, (i, &b)| mask | (u64::from(b == b'\n') << i))
}

/// The masks of 64-byte `chunks`: two compares of 32 bytes a word.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2_masks(chunks: std::slice::ChunksExact<u8>, masks: &mut [u64]) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let newline = _mm256_set1_epi8(b'\n' as i8);
    for (mask, chunk) in masks.iter_mut().zip(chunks) {
        // SAFETY: `chunk` is 64 readable bytes, loaded unaligned in halves.
        let (low, high) = unsafe {
            let p = chunk.as_ptr().cast::<__m256i>();
            (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
        };
        let low = _mm256_movemask_epi8(_mm256_cmpeq_epi8(low, newline)) as u32;
        let high = _mm256_movemask_epi8(_mm256_cmpeq_epi8(high, newline)) as u32;
        *mask = u64::from(low) | (u64::from(high) << 32);
    }
}

/// Where in the buffer at `address` the byte at file offset `offset` goes
/// so that both sit at the same offset within a page.
fn page_offset(address: usize, offset: u64) -> usize {
    (offset as usize).wrapping_sub(address) & (ALIGN - 1)
}

/// Reads until `buf` is full or the input ends; the count read (0 at the end).
fn fill<R: Read>(reader: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match reader.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// A line over [`LINE_CAP`] while it is read: its start, its first half,
/// and how many bytes after that were dropped so far.
struct LongLine {
    offset: u64,
    head: Vec<u8>,
    cut: u64,
}

impl LongLine {
    /// The capped line, given the bytes read since the last drop.
    fn finish(mut self, rest: &[u8]) -> Vec<u8> {
        let tail_from = rest.len().saturating_sub(HALF);
        self.cut += tail_from as u64;
        self.head
            .extend_from_slice(format!("[... {} bytes cut ...]", self.cut).as_bytes());
        self.head.extend_from_slice(&rest[tail_from..]);
        self.head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut lines = Vec::new();
        for_each_line(input, 100, |at, line| {
            lines.push((at, line.to_vec()));
            ControlFlow::Continue(())
        })
        .expect("reads");
        lines
    }

    #[test]
    fn lines_come_with_their_offsets() {
        let lines = collect(b"ab\n\ncde\nf");
        let want: Vec<(u64, Vec<u8>)> = vec![
            (100, b"ab".to_vec()),
            (103, b"".to_vec()),
            (104, b"cde".to_vec()),
            (108, b"f".to_vec()),
        ];
        assert_eq!(lines, want);
    }

    /// The `\n`s found 64 bytes at a time are the ones `memchr` finds,
    /// wherever they are relative to the 32- and 64-byte steps, with the
    /// mask buffer reused from longer and shorter blocks.
    #[test]
    fn newlines_are_what_memchr_finds() {
        let mut masks = Vec::new();
        for len in (0..200).chain((0..200).rev()) {
            for gap in 1..70 {
                for first in (0..len).step_by(13) {
                    let bytes: Vec<u8> = (0..len)
                        .map(|i| {
                            if i >= first && (i - first) % gap == 0 {
                                b'\n'
                            } else {
                                b'x'
                            }
                        })
                        .collect();
                    let want: Vec<usize> = memchr::memchr_iter(b'\n', &bytes).collect();
                    let got: Vec<usize> = Newlines::new(&bytes, &mut masks).collect();
                    assert_eq!(got, want, "{len} {gap} {first}");
                }
            }
        }
    }

    /// Where the processor lacks AVX2, the masks made a byte at a time
    /// are the same.
    #[test]
    fn masks_made_a_byte_at_a_time_are_the_same() {
        let bytes: Vec<u8> = (0..1000u32)
            .map(|i| {
                if i % 7 == 0 || i % 61 == 3 {
                    b'\n'
                } else {
                    b'x'
                }
            })
            .collect();
        let mut masks = Vec::new();
        newline_masks(&bytes, &mut masks);
        let chunks = bytes.chunks_exact(64);
        let mut slow = vec![0; chunks.len()];
        byte_masks(chunks, &mut slow);
        assert_eq!(masks[..slow.len()], slow[..]);
    }

    #[test]
    fn final_newline_adds_no_empty_line() {
        assert_eq!(collect(b"a\nb\n").len(), 2);
        assert!(collect(b"").is_empty());
    }

    #[test]
    fn lines_spanning_many_chunks_are_whole_and_in_order() {
        let text: String = (0..100_000)
            .map(|i| format!("line {i:06} xxxxxxxxxxxxxxxx\n"))
            .collect();
        let lines = collect(text.as_bytes());
        assert!(text.len() > 2 * CHUNK);
        assert_eq!(lines.len(), 100_000);
        assert_eq!(lines[54_321].1, b"line 054321 xxxxxxxxxxxxxxxx");
        assert_eq!(lines[54_321].0, 100 + 54_321 * 29);
    }

    /// Reads are placed at the file's offset within a page: every line
    /// still comes with its own offset, whatever the first one.
    #[test]
    fn offsets_hold_whatever_the_first_offset() {
        let text: String = (0..30_000)
            .map(|i| format!("{i} {}\n", "x".repeat(i % 50)))
            .collect();
        let want: Vec<u64> = text
            .split_inclusive('\n')
            .scan(0, |at, line| {
                let start = *at;
                *at += line.len() as u64;
                Some(start)
            })
            .collect();
        for first in [0, 1, 4095, 4096, 4097, 123_457, u64::MAX / 2] {
            let mut got = Vec::new();
            for_each_line(text.as_bytes(), first, |at, _| {
                got.push(at - first);
                ControlFlow::Continue(())
            })
            .expect("reads");
            assert_eq!(got, want, "first offset {first}");
        }
    }

    #[test]
    fn huge_line_keeps_both_ends_and_says_how_much_was_cut() {
        let huge = format!("start{}end", "y".repeat(3 * CHUNK));
        let input = format!("a\n{huge}\nb\n");
        let lines = collect(input.as_bytes());
        assert_eq!(lines.len(), 3);
        let (at, line) = &lines[1];
        assert_eq!(*at, 102);
        assert!(line.len() < LINE_CAP + 100);
        assert!(line.starts_with(b"starty"));
        assert!(line.ends_with(b"yyyend"));
        let cut = huge.len() - 2 * HALF;
        assert!(
            String::from_utf8_lossy(line).contains(&format!("[... {cut} bytes cut ...]")),
            "{cut}"
        );
        assert_eq!(lines[2], (103 + huge.len() as u64, b"b".to_vec()));
    }

    #[test]
    fn huge_last_line_without_newline_is_capped_too() {
        let huge = "z".repeat(LINE_CAP * 3);
        let lines = collect(huge.as_bytes());
        assert_eq!(lines.len(), 1);
        assert!(lines[0].1.len() < LINE_CAP + 100);
    }

    #[test]
    fn break_stops_the_reading() {
        let mut seen = 0;
        for_each_line(&b"a\nb\nc\n"[..], 0, |_, _| {
            seen += 1;
            ControlFlow::Break(())
        })
        .expect("reads");
        assert_eq!(seen, 1);
    }

    /// Reads `input` `step` bytes at a time.
    struct Steps<'a>(&'a [u8], usize);

    impl Read for Steps<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// Blocks hold whole lines at their offsets, whatever the line
        /// lengths (short, over the cap, over a chunk) and the reads: laid
        /// end to end, they are the input, with lines over a chunk capped.
        #[test]
        fn blocks_are_whole_lines_in_order(
            lengths in proptest::collection::vec(
                proptest::prop_oneof![8 => 0..300usize, 1 => LINE_CAP - 2..LINE_CAP + 2, 1 => CHUNK + ALIGN + 1..CHUNK + ALIGN + 9],
                0..12,
            ),
            last_newline: bool,
            step in 1..CHUNK * 2,
            first in 0..10_000u64,
        ) {
            let mut input = Vec::new();
            let mut want = Vec::new();
            for (i, len) in lengths.iter().enumerate() {
                let line: Vec<u8> = (0..*len).map(|j| b'a' + ((i + j) % 26) as u8).collect();
                want.push((first + input.len() as u64, line.clone()));
                input.extend_from_slice(&line);
                input.push(b'\n');
            }
            if !last_newline && input.pop().is_some() && want.last().is_some_and(|(_, l)| l.is_empty()) {
                want.pop();
            }
            let mut got = Vec::new();
            let mut ends = 0;
            for_each_block(Steps(&input, step), first, |at, block| {
                assert!(!block.is_empty());
                ends += usize::from(block.last() != Some(&b'\n'));
                let mut start = 0;
                for line in block.split_inclusive(|&b| b == b'\n') {
                    got.push((at + start as u64, line.strip_suffix(b"\n").unwrap_or(line).to_vec()));
                    start += line.len();
                }
                ControlFlow::Continue(())
            })
            .expect("reads");
            // Only the input's last line may end without a newline.
            proptest::prop_assert!(ends <= usize::from(!last_newline));
            proptest::prop_assert_eq!(got.len(), want.len());
            for ((at, line), (want_at, whole)) in got.iter().zip(&want) {
                proptest::prop_assert_eq!(at, want_at);
                if whole.len() > CHUNK + ALIGN {
                    let cut = format!("[... {} bytes cut ...]", whole.len() - 2 * HALF);
                    proptest::prop_assert_eq!(&line[..HALF], &whole[..HALF]);
                    proptest::prop_assert_eq!(&line[HALF..HALF + cut.len()], cut.as_bytes());
                    proptest::prop_assert_eq!(&line[HALF + cut.len()..], &whole[whole.len() - HALF..]);
                } else if whole.len() <= LINE_CAP {
                    proptest::prop_assert_eq!(line, whole);
                }
            }
        }
    }

    #[test]
    fn slow_reader_giving_a_few_bytes_at_a_time_gives_the_same_lines() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = b"one\ntwo\nthree";
        let mut lines = Vec::new();
        for_each_line(Trickle(text), 0, |_, l| {
            lines.push(l.to_vec());
            ControlFlow::Continue(())
        })
        .expect("reads");
        assert_eq!(lines, [b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]);
    }
}
