"""pynn's terminal front ends: the `pynn` command, Rich renderables and the Textual app."""
