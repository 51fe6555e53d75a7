"""The Telegram front end: the application's wiring (app), its handlers, how a Reply is sent
(replies), alerts to chats (notifier), Telegram's rate limits (rate_limit) and the scheduled
jobs on PTB's JobQueue (jobs)."""
