use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use pyo3::{intern, types::PyTuple};

/// An awaitable that completes at once with `None`: `await done` never suspends.
#[pyclass(frozen, module = "granian._native")]
pub struct Done;

#[pymethods]
impl Done {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[expect(clippy::unused_self, reason = "Python calls it as a method")]
    fn __next__(&self) -> Option<Py<PyAny>> {
        None
    }

    #[expect(clippy::unused_self, reason = "Python calls it as a method")]
    fn send(&self, _value: &Bound<'_, PyAny>) -> Option<Py<PyAny>> {
        None
    }
}

impl Done {
    /// A fresh `Done` object.
    pub fn new_object(py: Python<'_>) -> PyResult<Py<Self>> {
        Py::new(py, Self)
    }
}

/// An awaitable that completes at once with a value: `await ready` never suspends.
#[pyclass(module = "granian._native")]
pub struct Ready {
    value: Option<Py<PyAny>>,
}

#[pymethods]
impl Ready {
    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&mut self) -> PyResult<Option<Py<PyAny>>> {
        match self.value.take() {
            // The value goes in a 1-tuple so that a tuple value is not taken as the
            // exception's argument list.
            Some(value) => Err(PyStopIteration::new_err((value,))),
            None => Ok(None),
        }
    }

    fn send(&mut self, _value: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.__next__()
    }
}

impl Ready {
    /// An awaitable completing with `value`.
    pub fn new_object(py: Python<'_>, value: Py<PyAny>) -> PyResult<Py<Self>> {
        Py::new(py, Self { value: Some(value) })
    }
}

/// Complete an asyncio future with `value`, unless it is already done (cancelled by the
/// application, typically). Runs on the loop thread.
pub fn resolve(py: Python<'_>, future: &Bound<'_, PyAny>, value: Py<PyAny>) -> PyResult<()> {
    if future.call_method0(intern!(py, "done"))?.is_truthy()? {
        return Ok(());
    }
    future.call_method1(intern!(py, "set_result"), PyTuple::new(py, [value])?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyo3::types::PyDict;

    fn run(py: Python<'_>, code: &std::ffi::CStr, locals: &Bound<'_, PyDict>) {
        py.run(code, Some(locals), None).unwrap();
    }

    #[test]
    fn awaiting_completes_without_suspending() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            locals.set_item("done", Done::new_object(py).unwrap()).unwrap();
            let value = PyTuple::new(py, [1, 2]).unwrap().into_any().unbind();
            locals.set_item("ready", Ready::new_object(py, value).unwrap()).unwrap();
            run(
                py,
                c"
async def main():
    return (await done), (await ready)
coro = main()
try:
    coro.send(None)
    raise AssertionError('suspended')
except StopIteration as stop:
    result = stop.value
",
                &locals,
            );
            let result = locals.get_item("result").unwrap().unwrap();
            assert_eq!(result.repr().unwrap().to_string(), "(None, (1, 2))");
        });
    }

    #[test]
    fn resolve_skips_done_futures() {
        Python::attach(|py| {
            let locals = PyDict::new(py);
            run(
                py,
                c"
import asyncio
loop = asyncio.new_event_loop()
fut = loop.create_future()
fut.cancel()
fresh = loop.create_future()
",
                &locals,
            );
            let none = py.None();
            resolve(py, &locals.get_item("fut").unwrap().unwrap(), none.clone_ref(py)).unwrap();
            let fresh = locals.get_item("fresh").unwrap().unwrap();
            resolve(py, &fresh, 7i32.into_pyobject(py).unwrap().into_any().unbind()).unwrap();
            assert_eq!(fresh.call_method0("result").unwrap().extract::<i32>().unwrap(), 7);
            run(py, c"loop.close()", &locals);
        });
    }
}
