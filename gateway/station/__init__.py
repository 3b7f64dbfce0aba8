"""The station link: the gateway's MQTT contract with the station platform (docs/mqtt.md).

Events, alerts and command results leave through the durable outbox (QoS 1, marked delivered on
PUBACK); signed commands arrive on the command topics and are verified by `verify` (pure) before
any handler runs.
"""
