"""collectors: OPC UA and MQTT into the database.

``payload`` validates MQTT payload v1, ``registry`` maps robot and signal codes to ids,
``writer`` batches rows into binary COPY with backpressure and quarantines rejects,
``mqtt`` and ``opcua`` are the two transports, ``metrics`` their Prometheus counters.
"""
