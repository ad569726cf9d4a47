//! Standard output for the commands. `println!` panics when the reader has gone away
//! (`sloop history | head`); these helpers stop writing instead, and the command finishes its
//! work (decision logs, reports) and exits with its own status.

use std::{
    fmt,
    io::{self, Write},
    sync::atomic::{AtomicBool, Ordering},
};

/// Set once standard output is found closed; later writes are skipped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes formatted text to standard output, without a newline.
pub fn text(args: fmt::Arguments<'_>) {
    write(args, false);
}

/// Writes formatted text and a newline to standard output.
pub fn line(args: fmt::Arguments<'_>) {
    write(args, true);
}

fn write(args: fmt::Arguments<'_>, newline: bool) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = written.and_then(|()| out.flush()) {
        CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            // A full disk or a revoked descriptor is worth one line; a reader that stopped
            // reading (`| head`) is not.
            eprintln!("warning: cannot write to standard output: {e}; output stopped");
        }
    }
}
