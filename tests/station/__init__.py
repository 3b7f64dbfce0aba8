"""Station link tests against a real mosquitto (TLS, passwords, ACL) started by the tests."""
