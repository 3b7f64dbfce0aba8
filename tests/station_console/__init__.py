"""Station console tests: real mosquitto, PostgreSQL, the service, simulated gateways, chromium."""
