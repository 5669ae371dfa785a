"""`python -m rnnkit` runs the command-line tool."""

from rnnkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
