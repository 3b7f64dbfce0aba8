"""Access policy: who may enter by face, card, visitor code or remote command, and the alerts."""
