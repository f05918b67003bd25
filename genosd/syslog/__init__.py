"""Syslog: the message formats devices send, stream framing, and structured events."""
