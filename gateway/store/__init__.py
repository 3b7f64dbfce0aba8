"""The durable store: people, credentials, consent, codes, events, alerts, audit and outbox."""
