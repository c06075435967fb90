"""Notifications: messages to people in an in-app inbox, and by e-mail over SMTP where the site configures it."""
