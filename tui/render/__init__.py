"""Rich renderables: arrays and small dicts in, things to print out. The CLI prints them and the Textual
widgets wrap the same objects, so a view looks the same in both."""
