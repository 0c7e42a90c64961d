"""The console: the bot's commands in a terminal or from a pipe, without Discord."""
