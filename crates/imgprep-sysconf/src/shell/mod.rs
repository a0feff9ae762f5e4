//! Shell startup files and the umask they set: sh and csh lexing, the structure around each
//! command (`if`, `case`, `for`, functions, `&&`/`||`), conditions decided for a subject, the
//! walk through the files a login shell reads, and SCAP Security Guide's reading of the same
//! files.

mod cond;
mod edit;
mod lex;
mod session;
mod ssg;
mod structure;
mod value;
mod walk;

#[cfg(test)]
mod tests;

pub use edit::{profile_umask, shell_startup_umask, system_umask};
pub use session::{LoginUmask, MAX_EVIDENCE, Session, login_umask};
pub use ssg::{Keyword, SsgResult, UmaskLine, ssg_file_result, umask_lines};
pub(crate) use value::parse_octal;
pub use value::{format_octal, octal_umask};
pub use walk::{Origin, State, Val};
