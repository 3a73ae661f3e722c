"""One module per `pynn` subcommand. Each exposes register(subparsers) that adds its parser and sets
`handler` to a function taking the parsed args and returning the exit status."""
