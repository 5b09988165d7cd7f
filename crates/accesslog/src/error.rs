/// Why an access log format does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `%(name)s` with a name that is no atom.
    #[error("unknown atom `{0}` in the access log format")]
    UnknownAtom(String),
    /// `%(header{...})s` whose name is not a valid header name.
    #[error("`{0}` is not a valid header name in the access log format")]
    HeaderName(String),
    /// `%s` or `%d` without `(name)`: the format is filled from named atoms only.
    #[error(
        "`%` at byte {at} of the access log format needs an atom name, as in `%(status)d` (write `%%` for a percent sign)"
    )]
    Unnamed {
        /// Where the `%` is.
        at: usize,
    },
    /// `%(name` with no `)`.
    #[error("unclosed `%(` in the access log format")]
    Unclosed,
    /// The format ends inside a conversion.
    #[error("incomplete conversion at the end of the access log format")]
    Incomplete,
    /// A conversion other than `s`, `d`, `i`, `u`, `f` or `F`.
    #[error("unsupported conversion `{0}` in the access log format (use s, d, i, u, f or F)")]
    Conversion(char),
    /// `%d` or `%f` applied to a text atom.
    #[error("atom `{0}` is text, not a number: use `%({0})s`")]
    NotANumber(String),
    /// `*` as a width or precision, which needs positional arguments.
    #[error("`*` widths are not supported in the access log format")]
    Star,
    /// A width or precision too large to be meant.
    #[error("widths and precisions in the access log format are at most {max}")]
    Width {
        /// The largest accepted.
        max: usize,
    },
}
