//! Statements over a batch of rows: the joins of one meeting admitted together (see `hub/transitions.rs`).
//!
//! Shaped so that few distinct SQL texts exist: sqlx keeps each connection's prepared statements in a cache keyed
//! by the SQL text (100 statements per connection by default), so one text per batch size would evict the store's
//! other statements and be prepared again at every batch. `IN` lists are padded to a power of two
//! ([`padded`]: repeating a value changes nothing in `IN`), multi-row `INSERT`s go in power-of-two chunks
//! ([`pow2_chunks`]), so a query has at most `log2(MAX_ROWS) + 1` texts, and only the small ones are kept
//! ([`cached`]).

use std::ops::Range;

/// The most rows one statement carries: with 8 columns, 2,048 bound parameters, far below SQLite's 32,766.
pub const MAX_ROWS: usize = 256;

/// Whether a batch statement of `rows` rows stays prepared in the connection's statement cache: the small ones,
/// which come back at every batch, do; a large one (its VDBE program grows with its rows) is prepared for its batch
/// and freed, so that the cache of each pooled connection does not hold every size at once.
pub(super) fn cached(rows: usize) -> bool {
    rows <= CACHED_ROWS
}

/// See [`cached`].
const CACHED_ROWS: usize = 8;

/// `values` padded to the next power of two by repeating its last value (empty stays empty).
pub(super) fn padded<'a>(values: &[&'a str]) -> Vec<&'a str> {
    let mut out = values.to_vec();
    if let Some(last) = values.last() {
        out.resize(values.len().next_power_of_two(), last);
    }
    out
}

/// `$first, $first+1, …`: `count` numbered placeholders, for an `IN` list.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `($1, …, $columns), ($columns+1, …)`: the `VALUES` of `rows` rows of `columns` columns.
pub(super) fn row_placeholders(rows: usize, columns: usize) -> String {
    (0..rows).map(|row| format!("({})", placeholders(1 + row * columns, columns))).collect::<Vec<_>>().join(", ")
}

/// `0..n` cut into chunks of power-of-two sizes, largest first, none above [`MAX_ROWS`] (e.g. 300 → 256, 32, 8, 4).
pub(super) fn pow2_chunks(n: usize) -> impl Iterator<Item = Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = n - start;
        if left == 0 {
            return None;
        }
        let size = if left >= MAX_ROWS { MAX_ROWS } else { 1 << (usize::BITS - 1 - left.leading_zeros()) };
        start += size;
        Some(start - size..start)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_covering_every_row_once() {
        for n in [0, 1, 2, 3, 7, 100, 255, 256, 257, 300, 1000] {
            let chunks: Vec<_> = pow2_chunks(n).collect();
            assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), n);
            assert!(chunks.windows(2).all(|w| w[0].end == w[1].start));
            assert!(chunks.iter().all(|c| c.len().is_power_of_two() && c.len() <= MAX_ROWS), "{n}: {chunks:?}");
        }
        assert_eq!(pow2_chunks(300).map(|c| c.len()).collect::<Vec<_>>(), [256, 32, 8, 4]);
    }

    #[test]
    fn in_lists_pad_with_the_last_value_and_placeholders_number_on() {
        assert_eq!(padded(&["a", "b", "c"]), ["a", "b", "c", "c"]);
        assert!(padded(&[]).is_empty());
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
        assert_eq!(row_placeholders(2, 2), "($1, $2), ($3, $4)");
    }
}
