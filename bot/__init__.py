"""citeqa's front-ends: the command line, the HTTP API and the Telegram bot, each thin over `ask`."""
