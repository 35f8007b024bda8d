//! `kubectl-etcd`: parse, run, exit. Everything else lives in the library.

fn main() {
    // A bug must still end in one line, not a stack trace at 3 a.m.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error: {msg}{at}");
        eprintln!("help: this is a bug in kubectl-etcd; please report it with the command you ran");
    }));
    std::process::exit(kubectl_etcd::run(std::env::args_os()));
}
