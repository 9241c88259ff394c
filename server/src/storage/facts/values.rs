//! Typed access to a fact's measures: [`Measure`] constants and the
//! [`Values`] of a group they index.

use std::marker::PhantomData;

use super::Fact;

/// A measure of fact `F`: an index into its declaration, checked by type.
pub struct Measure<F>(usize, PhantomData<fn() -> F>);

impl<F> Measure<F> {
    pub const fn at(index: usize) -> Self {
        Self(index, PhantomData)
    }

    pub const fn index(&self) -> usize {
        self.0
    }
}

impl<F> Clone for Measure<F> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<F> Copy for Measure<F> {}

impl<F> std::fmt::Debug for Measure<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Measure({})", self.0)
    }
}

/// The measures of one group of fact `F`, addressed by [`Measure`].
#[derive(Debug, PartialEq)]
pub struct Values<F> {
    values: Box<[f64]>,
    fact: PhantomData<fn() -> F>,
}

impl<F> Clone for Values<F> {
    fn clone(&self) -> Self {
        Self {
            values: self.values.clone(),
            fact: PhantomData,
        }
    }

    fn clone_from(&mut self, source: &Self) {
        self.values.clone_from(&source.values);
    }
}

impl<F: Fact> Values<F> {
    /// An empty group.
    pub fn new() -> Self {
        Self::from_raw(F::DECL.identity())
    }

    pub fn from_raw(values: Box<[f64]>) -> Self {
        debug_assert_eq!(values.len(), F::DECL.measures.len());
        Self {
            values,
            fact: PhantomData,
        }
    }

    pub fn merge(&mut self, other: &[f64]) {
        F::DECL.merge(&mut self.values, other);
    }

    pub fn as_slice(&self) -> &[f64] {
        &self.values
    }

    pub fn into_raw(self) -> Box<[f64]> {
        self.values
    }

    /// A measure, with an empty group's maximum or minimum read as 0.
    pub fn get(&self, measure: Measure<F>) -> f64 {
        let v = self.values[measure.0];
        if v.is_finite() { v } else { 0.0 }
    }

    pub fn set(&mut self, measure: Measure<F>, value: f64) {
        self.values[measure.0] = value;
    }

    /// A measure by index, as stored (an empty maximum is -inf).
    pub fn get_raw(&self, index: usize) -> f64 {
        self.values[index]
    }

    pub fn set_raw(&mut self, index: usize, value: f64) {
        self.values[index] = value;
    }
}

impl<F: Fact> Default for Values<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Fact> std::ops::Index<Measure<F>> for Values<F> {
    type Output = f64;
    fn index(&self, measure: Measure<F>) -> &f64 {
        &self.values[measure.0]
    }
}
