"""The station console: the police station's service for thousands of menwei doors.

It ingests every gateway's MQTT messages into PostgreSQL (`ingest`), serves the operators' web
console (`web`), sends signed commands (`command_sender`) and can simulate gateways
(`simulate`). It depends on the gateway's station contract (`gateway.station`), never the reverse.
"""
