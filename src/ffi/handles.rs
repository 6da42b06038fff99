//! Opaque handles: what C holds instead of pointers.
//!
//! A handle is a 64-bit id: slot index (bits 0-31), the slot's generation
//! (bits 32-55) and the kind of object (bits 56-63, never 0). Objects live in
//! a global registry per kind, as `Arc`s; a call looks its handle up (a
//! short lock), clones the `Arc` and works without the lock. So:
//! - the zero handle, a freed handle (its slot's generation moved on) and a
//!   handle of another kind are detected and answered with an error status,
//!   never dereferenced;
//! - freeing a handle while another thread still uses the object is safe:
//!   the object lives until that call returns.

use super::error::{DyagStatus, FfiError, FfiResult};
use std::sync::{Arc, Mutex, MutexGuard};

const INDEX_BITS: u32 = 32;
const GENERATION_BITS: u32 = 24;
const GENERATION_MASK: u64 = (1 << GENERATION_BITS) - 1;

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

struct Slots<T> {
    entries: Vec<Slot<T>>,
    free: Vec<u32>,
}

/// The live objects of one kind.
pub(crate) struct Registry<T> {
    kind: u8,
    /// For messages: "model", "adapter".
    name: &'static str,
    slots: Mutex<Slots<T>>,
}

impl<T> Registry<T> {
    /// `kind` must be unique among registries and non-zero.
    pub const fn new(kind: u8, name: &'static str) -> Self {
        Registry { kind, name, slots: Mutex::new(Slots { entries: Vec::new(), free: Vec::new() }) }
    }

    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        // Nothing in the critical sections can panic halfway through an
        // update, so a poisoned lock still guards consistent data.
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn id(&self, index: u32, generation: u32) -> u64 {
        (u64::from(self.kind) << (INDEX_BITS + GENERATION_BITS))
            | ((u64::from(generation) & GENERATION_MASK) << INDEX_BITS)
            | u64::from(index)
    }

    /// Stores `value` and returns its handle id (never 0).
    pub fn insert(&self, value: T) -> FfiResult<u64> {
        let mut s = self.lock();
        let index = match s.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(s.entries.len())
                    .map_err(|_| FfiError::new(DyagStatus::Other, format!("too many live {} handles", self.name)))?;
                s.entries.push(Slot { generation: 0, value: None });
                i
            }
        };
        let slot = &mut s.entries[index as usize];
        // Generations wrap within their 24 bits; each reuse of a slot gets a new one.
        slot.generation = (slot.generation + 1) & GENERATION_MASK as u32;
        slot.value = Some(Arc::new(value));
        Ok(self.id(index, slot.generation))
    }

    /// The index of a live object, or why `id` is not one.
    fn locate(&self, s: &Slots<T>, id: u64) -> FfiResult<usize> {
        if id == 0 {
            return Err(FfiError::new(DyagStatus::InvalidHandle, format!("null {} handle (0)", self.name)));
        }
        let kind = (id >> (INDEX_BITS + GENERATION_BITS)) as u8;
        let generation = ((id >> INDEX_BITS) & GENERATION_MASK) as u32;
        let index = (id & 0xFFFF_FFFF) as usize;
        let foreign = || FfiError::new(DyagStatus::InvalidHandle, format!("{} handle {id:#x} was not returned by dyag", self.name));
        if kind != self.kind {
            return Err(foreign());
        }
        let slot = s.entries.get(index).ok_or_else(foreign)?;
        if slot.generation != generation || slot.value.is_none() {
            return Err(FfiError::new(DyagStatus::InvalidHandle, format!("stale {} handle {id:#x}: it was freed", self.name)));
        }
        Ok(index)
    }

    /// The object behind `id`.
    pub fn get(&self, id: u64) -> FfiResult<Arc<T>> {
        let s = self.lock();
        let index = self.locate(&s, id)?;
        Ok(s.entries[index].value.clone().expect("located slots hold a value"))
    }

    /// Takes the object out; the handle becomes stale. The object itself is
    /// dropped when the last call using it returns.
    pub fn remove(&self, id: u64) -> FfiResult<Arc<T>> {
        let mut s = self.lock();
        let index = self.locate(&s, id)?;
        let value = s.entries[index].value.take().expect("located slots hold a value");
        s.free.push(index as u32);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_null_and_foreign_handles_are_refused() {
        static R: Registry<String> = Registry::new(7, "thing");
        static OTHER: Registry<String> = Registry::new(8, "other");
        let a = R.insert("a".into()).unwrap();
        assert_ne!(a, 0);
        assert_eq!(*R.get(a).unwrap(), "a");
        let e = R.get(0).unwrap_err();
        assert_eq!((e.status, e.message.as_str()), (DyagStatus::InvalidHandle, "null thing handle (0)"));
        assert!(OTHER.get(a).unwrap_err().message.starts_with("other handle 0x"));
        assert!(R.get(a + 12345).unwrap_err().message.ends_with("was not returned by dyag"));
        R.remove(a).unwrap();
        assert!(R.get(a).unwrap_err().message.contains("stale thing handle"));
        assert!(R.remove(a).unwrap_err().message.contains("stale"));
        // The slot is reused with a new generation: the old handle stays stale.
        let b = R.insert("b".into()).unwrap();
        assert_eq!(b & 0xFFFF_FFFF, a & 0xFFFF_FFFF);
        assert_ne!(a, b);
        assert!(R.get(a).is_err());
        assert_eq!(*R.get(b).unwrap(), "b");
    }

    #[test]
    fn an_object_outlives_its_handle_while_in_use() {
        static R: Registry<Vec<u8>> = Registry::new(9, "buffer");
        let h = R.insert(vec![1, 2, 3]).unwrap();
        let in_use = R.get(h).unwrap();
        R.remove(h).unwrap();
        assert_eq!(*in_use, vec![1, 2, 3]);
    }
}
