//! A small allocator for the wasm payload: [`Heap`].
//!
//! The default allocator on `wasm32-unknown-unknown` (dlmalloc) is about 7 KB of code: with it in place of this one
//! the core payload is 35,559 B gzip -9 against a budget of 32,768 (`bench/size`, 2026-11-30; branch `wasm12-both`).
//! This client allocates little (frame strings, a participant list), so power-of-two size classes with one free list
//! each and a bump pointer over pages from `memory.grow` do: about 0.5 KB. Freed blocks are reused
//! for the same class only, so at most half of a block is slack; memory is never returned (wasm cannot shrink).
//!
//! The logic works on plain addresses and takes its pages from a closure, so it is tested natively below.

/// Blocks of `1 << class` bytes for `class` in `MIN_CLASS..CLASSES`.
const MIN_CLASS: u32 = 4;
const CLASSES: usize = 31;
/// Alignment of every bump allocation; stricter requests bypass the free lists.
const BASE_ALIGN: usize = 1 << MIN_CLASS;
const PAGE: usize = 65536;

/// Free lists and a bump region. Addresses are `usize`; `0` means "out of memory".
///
/// ```
/// use endsession::Heap;
/// let mut memory = vec![0u8; 4 * 65536];
/// let base = memory.as_mut_ptr() as usize;
/// let mut next = base.next_multiple_of(65536);
/// let mut grow = |pages: usize| { let at = next; next += pages * 65536; Some(at) };
/// let mut heap = Heap::new();
/// let a = unsafe { heap.alloc(24, 8, &mut grow) };
/// assert!(a != 0 && a % 16 == 0);
/// unsafe { heap.dealloc(a, 24, 8) };
/// assert_eq!(unsafe { heap.alloc(30, 8, &mut grow) }, a); // same class: reused
/// ```
pub struct Heap {
    free: [usize; CLASSES],
    top: usize,
    end: usize,
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

fn class(size: usize, align: usize) -> u32 {
    let size = size.max(align).max(1);
    (usize::BITS - (size - 1).leading_zeros()).max(MIN_CLASS)
}

impl Heap {
    pub const fn new() -> Self {
        Heap { free: [0; CLASSES], top: 0, end: 0 }
    }

    /// A block of at least `size` bytes aligned to `align`, or 0. `grow(pages)` must return the address of
    /// `pages` fresh 64 KiB pages (or `None`).
    ///
    /// # Safety
    /// Addresses in the free lists and the bump region must be writable memory only this heap uses.
    pub unsafe fn alloc(&mut self, size: usize, align: usize, grow: &mut impl FnMut(usize) -> Option<usize>) -> usize {
        let class = class(size, align);
        if class as usize >= CLASSES {
            return 0;
        }
        let block = 1usize << class;
        let head = self.free[class as usize];
        if head != 0 && align <= BASE_ALIGN {
            // The first word of a free block holds the next free block.
            self.free[class as usize] = *(head as *const usize);
            return head;
        }
        // `block` and `align` are at most 1 GiB (the class limit), so only additions to addresses can overflow.
        let align = align.max(BASE_ALIGN);
        let aligned = |top: usize| top.checked_add(align - 1).map(|a| a & !(align - 1));
        let mut start = aligned(self.top);
        if self.top == 0 || start.and_then(|s| s.checked_add(block)).is_none_or(|end| end > self.end) {
            let pages = (block + align).div_ceil(PAGE);
            let Some(at) = grow(pages) else { return 0 };
            if at != self.end || self.top == 0 {
                // Not contiguous with the current region: start over there (the rest of the old one is lost).
                self.top = at;
            }
            self.end = at + pages * PAGE;
            start = aligned(self.top);
        }
        let Some(start) = start else { return 0 };
        self.top = start + block;
        start
    }

    /// Gives back a block from [`Heap::alloc`] with the same `size` and `align`.
    ///
    /// # Safety
    /// `ptr` must come from `alloc(size, align)` on this heap and not be used again.
    pub unsafe fn dealloc(&mut self, ptr: usize, size: usize, align: usize) {
        // `get_mut`: a class `alloc` refused has no block to give back; no bounds-check panic (whose message
        // formats integers) in the payload.
        if let Some(head) = self.free.get_mut(class(size, align) as usize) {
            *(ptr as *mut usize) = *head;
            *head = ptr;
        }
    }

    /// Whether a block for `(old, align)` also serves `new` bytes, so that `realloc` can keep it.
    pub fn fits(old: usize, new: usize, align: usize) -> bool {
        class(old, align) == class(new, align)
    }
}

#[cfg(target_arch = "wasm32")]
mod global {
    use super::Heap;
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    /// The heap as the global allocator. wasm32 without atomics runs one thread, hence the `Sync`.
    struct Global(UnsafeCell<Heap>);

    unsafe impl Sync for Global {}

    fn grow(pages: usize) -> Option<usize> {
        match core::arch::wasm32::memory_grow(0, pages) {
            usize::MAX => None,
            previous => Some(previous * super::PAGE),
        }
    }

    unsafe impl GlobalAlloc for Global {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            (*self.0.get()).alloc(layout.size(), layout.align(), &mut grow) as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            (*self.0.get()).dealloc(ptr as usize, layout.size(), layout.align())
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if Heap::fits(layout.size(), new_size, layout.align()) {
                return ptr;
            }
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }

    #[global_allocator]
    static ALLOCATOR: Global = Global(UnsafeCell::new(Heap::new()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pages carved out of one leaked buffer, like `memory.grow`.
    fn pages(count: usize) -> impl FnMut(usize) -> Option<usize> {
        let memory = Box::leak(vec![0u8; (count + 1) * PAGE].into_boxed_slice());
        let mut next = (memory.as_mut_ptr() as usize).next_multiple_of(PAGE);
        let end = next + count * PAGE;
        move |n| {
            let at = next;
            (at + n * PAGE <= end).then(|| {
                next += n * PAGE;
                at
            })
        }
    }

    #[test]
    fn classes_are_powers_of_two_from_16() {
        assert_eq!([class(0, 1), class(1, 1), class(16, 8), class(17, 1), class(64, 64)], [4, 4, 4, 5, 6]);
        assert_eq!(class(PAGE + 1, 8), 17);
        assert!(Heap::fits(20, 32, 8) && !Heap::fits(32, 33, 8));
    }

    #[test]
    fn live_blocks_are_aligned_and_never_overlap() {
        let mut grow = pages(64);
        let mut heap = Heap::new();
        let mut live: Vec<(usize, usize, usize)> = Vec::new();
        let mut seed = 7u64;
        for round in 0..4000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let size = (seed >> 33) as usize % if round % 50 == 0 { 70_000 } else { 300 };
            let align = [1, 2, 4, 8, 16, 64][(seed >> 20) as usize % 6];
            if seed % 3 == 0 && !live.is_empty() {
                let (ptr, size, align) = live.swap_remove((seed >> 40) as usize % live.len());
                unsafe { heap.dealloc(ptr, size, align) };
                continue;
            }
            let ptr = unsafe { heap.alloc(size, align, &mut grow) };
            assert!(ptr != 0, "out of memory at round {round}");
            assert_eq!(ptr % align, 0);
            let end = ptr + size.max(1);
            for &(other, other_size, _) in &live {
                assert!(end <= other || other + other_size.max(1) <= ptr, "overlap at round {round}");
            }
            // Write the whole block: a bad address would crash or corrupt a neighbour's first word.
            unsafe { std::ptr::write_bytes(ptr as *mut u8, 0xAB, size) };
            live.push((ptr, size, align));
        }
    }

    #[test]
    fn strict_alignment_is_honoured_and_exhaustion_returns_zero() {
        let mut grow = pages(3);
        let mut heap = Heap::new();
        let a = unsafe { heap.alloc(10, 4096, &mut grow) };
        assert!(a != 0 && a % 4096 == 0);
        assert_eq!(unsafe { heap.alloc(1 << 20, 8, &mut grow) }, 0);
        assert_eq!(unsafe { heap.alloc(usize::MAX / 2, 8, &mut grow) }, 0);
        let b = unsafe { heap.alloc(100, 8, &mut grow) };
        assert!(b != 0 && b != a);
    }
}
