"""The application wing: the CLI, the local demo and its data, and the HTML report. Nothing in
the core imports it."""
