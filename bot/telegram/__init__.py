"""The Telegram bot (python-telegram-bot), thin over `ask`."""
