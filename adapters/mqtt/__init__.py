"""The MQTT adapter: vitals and device status in; alarms, room state, replies out.

codec.py (pure JSON <-> domain), topics.py (the topic layout), ingest.py (bad input, order,
counters), runner.py (aiomqtt in a reconnect loop), outbox.py (alarm events in order),
state.py (room snapshots), commands.py (the command channel), broker.py (embedded broker),
wiring.py (builds the components for suite/service.py).
"""
