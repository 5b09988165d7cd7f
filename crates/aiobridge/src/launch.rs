use pyo3::PyClass;
use pyo3::call::PyCallArgs;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::boolean_struct::False;

use crate::{LoopContext, TaskOutcome};

/// The object an interface hands its application to answer one request with (ASGI's `send`,
/// RSGI's protocol, their websocket counterparts): what [`launch`] needs of it when the
/// application cannot start and when its task ends.
pub trait Responder: PyClass<Frozen = False> + Into<PyClassInitializer<Self>> {
    /// Logged, with the error, when the object itself cannot be created.
    const SETUP_FAILED: &'static str;

    /// The loop the application runs on.
    fn context(&self) -> &LoopContext;

    /// The application's task ended with `outcome`, or the application never started
    /// ([`TaskOutcome::Raised`]: building its arguments, calling it or creating its task
    /// raised). An exception is logged already; what the application left unanswered is the
    /// responder's to answer.
    fn finished(&mut self, py: Python<'_>, outcome: TaskOutcome);
}

/// Start `app` on the loop for one request: create `responder`, call `app` with the
/// `arguments` built around it (the scope, `receive`, ...), run the coroutine as a task of the
/// loop, and tell the responder when the task ends. Anything failing on the way is logged and
/// the responder answers in the application's place. Runs on the loop thread.
pub fn launch<'py, R, A>(
    py: Python<'py>,
    app: &Py<PyAny>,
    context: &LoopContext,
    responder: R,
    arguments: impl FnOnce(&Py<R>) -> PyResult<A>,
) where
    R: Responder,
    A: PyCallArgs<'py>,
{
    let responder = match Py::new(py, responder) {
        Ok(responder) => responder,
        Err(err) => {
            context.log_error(py, R::SETUP_FAILED, Some(err.value(py).as_any()));
            return;
        }
    };
    let launched = (|| -> PyResult<()> {
        let coroutine = app.bind(py).call1(arguments(&responder)?)?;
        let task = context.spawn_task(py, &coroutine)?;
        let done = TaskDone {
            responder: responder.clone_ref(py).into_any(),
            finish: finish::<R>,
        };
        task.call_method1(intern!(py, "add_done_callback"), (done,))?;
        Ok(())
    })();
    if let Err(err) = launched {
        context.log_error(py, "Application exception", Some(err.value(py).as_any()));
        if let Ok(mut responder) = responder.try_borrow_mut(py) {
            responder.finished(py, TaskOutcome::Raised);
        }
    }
}

/// What an HTTP request's [`Responder::finished`] decides first: whether the response is to be
/// failed, which it is after an exception or a cancellation, and after a return that left it
/// `unanswered`. A cancellation or a return that left it unanswered is logged, with the
/// interface's own words (`cancelled`, `returned`).
#[must_use]
pub fn must_fail(
    py: Python<'_>,
    context: &LoopContext,
    outcome: TaskOutcome,
    unanswered: bool,
    cancelled: &str,
    returned: &str,
) -> bool {
    let message = match outcome {
        TaskOutcome::Raised => return true,
        TaskOutcome::Returned if !unanswered => return false,
        TaskOutcome::Cancelled if !unanswered => return true,
        TaskOutcome::Cancelled => cancelled,
        TaskOutcome::Returned => returned,
    };
    context.log_error(py, message, None);
    true
}

/// Read how `task` ended and tell the [`Responder`] `responder` is.
fn finish<R: Responder>(py: Python<'_>, responder: &Bound<'_, PyAny>, task: &Bound<'_, PyAny>) -> PyResult<()> {
    let mut responder = responder.cast::<R>()?.try_borrow_mut()?;
    let outcome = responder.context().task_outcome(py, task)?;
    responder.finished(py, outcome);
    Ok(())
}

/// The done-callback of an application's task.
#[pyclass(frozen, module = "granian._native")]
struct TaskDone {
    responder: Py<PyAny>,
    /// [`finish`] for the responder's type.
    finish: fn(Python<'_>, &Bound<'_, PyAny>, &Bound<'_, PyAny>) -> PyResult<()>,
}

#[pymethods]
impl TaskDone {
    fn __call__(&self, py: Python<'_>, task: &Bound<'_, PyAny>) -> PyResult<()> {
        (self.finish)(py, self.responder.bind(py), task)
    }
}
