//! Per-relation work of a large model spread over the cores, results in input order.
//!
//! A full computation at thousands of relations spends most of its time in work that is
//! independent from one relation to the next (reading and expanding each relation's jobs,
//! digesting them, writing each relation's job file). Below [`MIN_ITEMS`] items it runs on the
//! calling thread and the pool is never started: a small hook does not pay for its threads.
//! With one thread to run on (one core, `RAYON_NUM_THREADS=1`, inside a one-thread pool) it
//! runs on the calling thread too (the pool, started to ask, keeps one idle worker). The
//! result is the same either way.

use rayon::prelude::*;

/// Fewest items spread over threads: below it, starting the pool costs more than it saves.
pub const MIN_ITEMS: usize = 64;

/// `f` applied to each item, in the items' order, on several threads when there are at least
/// [`MIN_ITEMS`] of them and more than one thread. `init` makes the scratch state `f` may keep
/// between items (each thread has its own; nothing `f` returns may depend on what it holds).
pub fn map_with<T, S, R>(
    items: Vec<T>,
    init: impl Fn() -> S + Sync + Send,
    f: impl Fn(&mut S, T) -> R + Sync + Send,
) -> Vec<R>
where
    T: Send,
    R: Send,
{
    // The length first: asking for the thread count starts the pool.
    if items.len() < MIN_ITEMS || rayon::current_num_threads() < 2 {
        let mut state = init();
        items.into_iter().map(|item| f(&mut state, item)).collect()
    } else {
        items.into_par_iter().map_init(init, f).collect()
    }
}

/// [`map_with`] without scratch state.
pub fn map<T, R>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R>
where
    T: Send,
    R: Send,
{
    map_with(items, || (), |(), item| f(item))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order_on_either_side_of_the_threshold() {
        for n in [0, 1, MIN_ITEMS - 1, MIN_ITEMS, 10 * MIN_ITEMS + 7] {
            let items: Vec<usize> = (0..n).collect();
            let doubled = map(items.clone(), |i| 2 * i);
            assert_eq!(doubled, items.iter().map(|i| 2 * i).collect::<Vec<_>>());
        }
    }

    #[test]
    fn small_inputs_stay_on_the_calling_thread() {
        let caller = std::thread::current().id();
        let threads = map(vec![(); MIN_ITEMS - 1], |()| std::thread::current().id());
        assert!(threads.iter().all(|t| *t == caller));
    }
}
