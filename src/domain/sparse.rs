//! [`Sparse`]: a part of a case most cases leave at its default (e.g. their
//! swarming state), held behind a pointer only once it differs. The projections keep
//! every case in memory, so a large default part inline in each costs its full size
//! per case; behind an empty pointer it costs one word. It reads and writes as the
//! value itself (`Deref`, `DerefMut`), compares, prints and serializes as it (the
//! encoded bytes are the same), so nothing using the value changes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};

/// A type with one default value for every [`Sparse`] holding none to point at.
pub trait SharedDefault: Default + PartialEq + 'static {
    /// The default value, equal to `Self::default()`.
    fn shared_default() -> &'static Self;
}

/// `T`, boxed only while it differs from its default (see the module).
#[derive(Clone, Default)]
pub struct Sparse<T: SharedDefault>(Option<Box<T>>);

impl<T: SharedDefault> Sparse<T> {
    /// Lets go of the box if what it holds is back to the default (a write through
    /// `DerefMut` boxes the value even when it leaves it unchanged).
    pub fn settle(&mut self) {
        if self.0.as_deref().is_some_and(|v| v == T::shared_default()) {
            self.0 = None;
        }
    }

    /// Whether it holds a box (for tests of [`settle`](Self::settle)).
    pub fn is_boxed(&self) -> bool {
        self.0.is_some()
    }
}

impl<T: SharedDefault> From<T> for Sparse<T> {
    fn from(value: T) -> Self {
        let mut s = Sparse(Some(Box::new(value)));
        s.settle();
        s
    }
}

impl<T: SharedDefault> Deref for Sparse<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.0 {
            Some(value) => value,
            None => T::shared_default(),
        }
    }
}

impl<T: SharedDefault> DerefMut for Sparse<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Default::default)
    }
}

impl<T: SharedDefault> PartialEq for Sparse<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: SharedDefault + Eq> Eq for Sparse<T> {}

impl<T: SharedDefault + std::fmt::Debug> std::fmt::Debug for Sparse<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: SharedDefault + Serialize> Serialize for Sparse<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de, T: SharedDefault + Deserialize<'de>> Deserialize<'de> for Sparse<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Sparse::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    struct Part {
        names: Vec<String>,
    }

    static EMPTY: Part = Part { names: Vec::new() };

    impl SharedDefault for Part {
        fn shared_default() -> &'static Self {
            &EMPTY
        }
    }

    #[test]
    fn reads_and_writes_as_the_value_and_boxes_only_what_differs() {
        let mut s = Sparse::<Part>::default();
        assert!(!s.is_boxed());
        assert!(s.names.is_empty());
        s.names.push("x".into());
        assert!(s.is_boxed());
        assert_eq!(
            *s,
            Part {
                names: vec!["x".into()]
            }
        );
        s.settle();
        assert!(s.is_boxed(), "a value other than the default stays");
        s.names.clear();
        assert_eq!(
            s,
            Sparse::default(),
            "equal to the default whether boxed or not"
        );
        s.settle();
        assert!(!s.is_boxed());
    }

    #[test]
    fn encodes_as_the_value_and_decodes_the_default_unboxed() {
        for part in [
            Part::default(),
            Part {
                names: vec!["a".into(), "b".into()],
            },
        ] {
            let sparse = Sparse::from(part.clone());
            let bytes = postcard::to_allocvec(&sparse).unwrap();
            assert_eq!(bytes, postcard::to_allocvec(&part).unwrap());
            let back: Sparse<Part> = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(*back, part);
            assert_eq!(back.is_boxed(), part != Part::default());
            assert_eq!(format!("{back:?}"), format!("{part:?}"));
        }
    }
}
