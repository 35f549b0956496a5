//! Every subcommand, positional argument and option says what it is in `--help`.

use clap::CommandFactory;
use spatten::cli::Cli;

fn undocumented(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
    let here = format!("{path} {}", cmd.get_name());
    if cmd.get_about().is_none() && !path.is_empty() {
        out.push(format!("{here}: command has no description"));
    }
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            out.push(format!("{here}: argument `{id}` has no help text"));
        }
        // Flags list true/false as their values; only real choices need words.
        let choices = if arg.get_action().takes_values() {
            arg.get_possible_values()
        } else {
            Vec::new()
        };
        for v in choices {
            if v.get_help().is_none() {
                out.push(format!(
                    "{here}: `{id}` value `{}` has no help text",
                    v.get_name()
                ));
            }
        }
    }
    for sub in cmd.get_subcommands() {
        if sub.get_name() != "help" {
            undocumented(sub, &here, out);
        }
    }
}

#[test]
fn every_argument_has_help_text() {
    let mut missing = Vec::new();
    undocumented(&Cli::command(), "", &mut missing);
    assert!(missing.is_empty(), "undocumented:\n{}", missing.join("\n"));
}
