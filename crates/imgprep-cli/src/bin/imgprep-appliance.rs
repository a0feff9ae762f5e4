//! `imgprep-appliance`: runs the libguestfs appliance for `imgprep prepare` and
//! `imgprep bundle --image`. `imgprep` starts it and talks to it over stdin and stdout
//! (`imgprep_apply::protocol`); it is not meant to be run by hand.

use std::io::{BufReader, IsTerminal, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::io::stdin().is_terminal() {
        let _ = writeln!(
            std::io::stderr(),
            "imgprep-appliance: runs the libguestfs appliance for `imgprep prepare` and \
             `imgprep bundle --image`; imgprep starts it, it is not run by hand"
        );
        return ExitCode::from(2);
    }
    match imgprep_appliance::serve(BufReader::new(std::io::stdin()), std::io::stdout()) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "imgprep-appliance: error: {e}");
            ExitCode::from(2)
        }
    }
}
