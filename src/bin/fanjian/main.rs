//! The `fanjian` command. Flags are parsed and validated in `cli`, files converted in `batch`,
//! written safely by `output`.

mod batch;
mod cli;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::batch::Messages;
use crate::cli::{Args, Command, Generate, Walk};

fn generate(what: Generate) -> std::io::Result<()> {
    let mut cmd = Args::command();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        Generate::Man => return clap_mangen::Man::new(cmd).render(&mut out),
        Generate::Bash => clap_complete::Shell::Bash,
        Generate::Zsh => clap_complete::Shell::Zsh,
        Generate::Fish => clap_complete::Shell::Fish,
        Generate::Elvish => clap_complete::Shell::Elvish,
        Generate::Powershell => clap_complete::Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, "fanjian", &mut out);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = args.generate {
        return match generate(what) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("fanjian: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let messages = Messages::new(args.quiet);
    if let Some(Command::Detect { paths, json }) = &args.command {
        let code = batch::detect_files(paths, *json, &Walk::from_args(&args), &messages);
        return ExitCode::from(code as u8);
    }
    let settings = match cli::settings(&args) {
        Ok(s) => s,
        Err(cli::Usage(message)) => {
            eprintln!("fanjian: {message}");
            return ExitCode::from(2);
        }
    };
    // The pool starts its threads on first use: a small file never pays for them.
    if args.threads.is_some() {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(settings.threads())
            .build_global()
        {
            eprintln!("fanjian: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::from(batch::run(&settings, &messages) as u8)
}
