//! An operator built the first time it is pulled. What it needs from storage (a selector's
//! series, a subquery's points) is read then, on the evaluation thread, so that planning does
//! no I/O and a query reads only what its evaluation reaches.

use super::{Batch, BoxOperator, Operator, SeriesMeta};
use crate::promql::error::EngineError;
use std::sync::Arc;

type Build = Box<dyn FnOnce() -> Result<BoxOperator, EngineError> + Send>;

pub struct Deferred {
    build: Option<Build>,
    built: Option<BoxOperator>,
}

impl Deferred {
    pub fn new(build: impl FnOnce() -> Result<BoxOperator, EngineError> + Send + 'static) -> Self {
        Self {
            build: Some(Box::new(build)),
            built: None,
        }
    }

    fn operator(&mut self) -> Result<&mut BoxOperator, EngineError> {
        if let Some(build) = self.build.take() {
            self.built = Some(build()?);
        }
        // Only a build that failed (and was reported) leaves nothing to pull.
        self.built
            .as_mut()
            .ok_or_else(|| EngineError::Execution("operator pulled after it failed".into()))
    }
}

impl Operator for Deferred {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EngineError> {
        self.operator()?.series()
    }

    fn next(&mut self) -> Result<Option<Batch>, EngineError> {
        self.operator()?.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::exec::{NumberOp, Steps};
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn nothing_is_built_until_the_operator_is_pulled() {
        let built = Arc::new(AtomicBool::new(false));
        let flag = built.clone();
        let mut op = Deferred::new(move || {
            flag.store(true, Ordering::Relaxed);
            Ok(Box::new(NumberOp::new(1.0, Steps::instant(0))) as BoxOperator)
        });
        assert!(!built.load(Ordering::Relaxed));
        assert_eq!(op.series().map(|s| s.len()), Ok(1));
        assert!(built.load(Ordering::Relaxed));
        assert!(op.next().is_ok_and(|b| b.is_some()));
    }

    #[test]
    fn a_failed_build_fails_every_pull() {
        let mut op = Deferred::new(|| Err(EngineError::Limit("too many".into())));
        assert_eq!(
            op.series().err(),
            Some(EngineError::Limit("too many".into()))
        );
        assert!(op.next().is_err());
    }
}
