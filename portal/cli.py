"""What every command of the portal's CLI shares, so that scripts and people read them alike:

- Exit codes: 0 done (a dry run: it would be done), 1 refused (something named does not
  exist or a rule refuses the change; nothing changed), 2 usage (bad arguments, an unreadable
  CSV file). Django turns a CommandError into "<class name>: message" on stderr and exits
  with its returncode (1 unless told); argparse exits 2 on bad arguments, and a programmatic call
  gets a CommandError with returncode 2 for them too.
- Progress goes to stdout in the normal style: redrawn in place with "\\r" only when stdout is
  a terminal, otherwise one plain line per step, so a log or a pipe reads line by line. Never
  on stderr, whose style on a terminal is Django's red ERROR: a good run must not look failed.
- --json prints one JSON document on stdout (on failure too, with an "error" object) and no
  progress; the error still goes to stderr for the person watching.

upgrades' upgrade_status uses this module too (upgrades sits above licensing)."""

import argparse
import json
import textwrap
from functools import partial

from django.core.management.base import BaseCommand, CommandError, DjangoHelpFormatter
from django.utils.translation import gettext as _

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class CliError(CommandError):
    """A CommandError with a code and details for --json. `reason` is the message without the
    "Refused, nothing changed:" frame the person on the terminal reads."""

    def __init__(
        self,
        message,
        *,
        code: str,
        details: dict | None = None,
        reason=None,
        returncode: int = EXIT_REFUSED,
    ):
        super().__init__(str(message), returncode=returncode)
        self.code = code
        self.details = details or {}
        self.reason = str(reason if reason is not None else message)

    def as_json(self) -> dict:
        return {"code": self.code, "message": self.reason, "details": self.details}


# Django prints "<class name>: <message>" on stderr: a person reads "Error: …".
CliError.__name__ = CliError.__qualname__ = "Error"


def plain(text: str) -> str:
    """The normal style, whatever style the stream was given."""
    return text


class Progress:
    """A step's progress. On a terminal `label [#####.....] 500/1000`, redrawn in place; off a
    terminal `label: 500/1000`, one line each time it advances (the callers report at batch
    boundaries, so a log gets a handful of lines, not one per user)."""

    OFF, LINES, TTY = "off", "lines", "tty"

    def __init__(self, stream, label: str, *, mode: str, width: int = 30):
        self.stream = stream
        self.label = label
        self.mode = mode
        self.width = width
        self.drawn = False
        self.last = None

    def __call__(self, done: int, total: int) -> None:
        if self.mode == self.OFF or total <= 0 or (done, total) == self.last:
            return
        self.last = (done, total)
        if self.mode == self.TTY:
            filled = int(self.width * done / total)
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{total}", style_func=plain, ending="")
            self.stream.flush()
            self.drawn = True
        else:
            self.stream.write(
                _("%(step)s: %(done)d/%(total)d")
                % {"step": self.label, "done": done, "total": total},
                style_func=plain,
            )

    def finish(self) -> None:
        """End a bar drawn in place with its newline (nothing to do for lines)."""
        if self.drawn:
            self.stream.write("", style_func=plain)
            self.drawn = False


class HelpFormatter(DjangoHelpFormatter):
    """Wraps each line of the description and the epilog on its own, so the exit-code table
    keeps its lines; an indented line wraps under its text, past the code."""

    def _fill_text(self, text, width, indent):
        lines = []
        for line in text.splitlines():
            if not line.strip():
                lines.append("")
                continue
            inner = " " * (len(line) - len(line.lstrip()))
            hanging = inner + "   " if inner else ""
            lines.append(
                textwrap.fill(
                    line.strip(),
                    width,
                    initial_indent=indent + inner,
                    subsequent_indent=indent + hanging,
                )
            )
        return "\n".join(lines)


def exit_codes_text(*, done: str, refused: str, usage: str) -> str:
    """The --help epilog: what each exit status means for this command."""
    return "\n".join(
        [
            _("Exit status:"),
            f"  0  {done}",
            f"  1  {refused}",
            f"  2  {usage}",
            _("With --json, stdout is one JSON document, on failure too. See docs/CLI.md."),
        ]
    )


class CliCommand(BaseCommand):
    """A command with the exit codes, help epilog and --json handling above."""

    def epilog(self) -> str:
        raise NotImplementedError

    def json_failure(self, error: CliError, options: dict) -> dict:
        """The --json document of a failure; `options` may be empty (bad arguments)."""
        return {"error": error.as_json()}

    def run_from_argv(self, argv):
        # Kept to know, when the arguments cannot be parsed, whether --json was asked for.
        self._argv = argv
        super().run_from_argv(argv)

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = HelpFormatter
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Translated when the parser is made, in the language active then.
        parser.description = str(self.help)
        parser.epilog = self.epilog()
        parser.error = partial(self.usage_error, parser)
        return parser

    def usage_error(self, parser, message):
        error = CliError(message, code="usage", returncode=EXIT_USAGE)
        argv = getattr(self, "_argv", [])
        if "--json" in argv[2:]:
            dry_run = "--dry-run" in argv[2:]
            self.write_json(self.json_failure(error, {"dry_run": dry_run}))
        if parser.called_from_command_line:
            # argparse's own: the usage line and the message on stderr, exit status 2.
            argparse.ArgumentParser.error(parser, message)
        raise error

    def write_json(self, document) -> None:
        self.stdout.write(json.dumps(document, indent=2), style_func=plain)

    def progress_mode(self, options) -> str:
        if options.get("json") or options.get("no_progress") or options.get("verbosity", 1) < 1:
            return Progress.OFF
        return Progress.TTY if self.stdout.isatty() else Progress.LINES

    def progress(self, label: str, options) -> Progress:
        return Progress(self.stdout, label, mode=self.progress_mode(options))
