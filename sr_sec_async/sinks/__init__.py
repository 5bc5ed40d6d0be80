"""Where messages go: SNS (production) or the current ``sys.stdout`` (test mode)."""
