"""The front-end-neutral command layer: who asks (Caller), what they ask (Request), what a
command is (Command); one module per feature in commands/."""
