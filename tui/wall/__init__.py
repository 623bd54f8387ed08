"""`procsuite web`: the board and the vitals on a browser, read-only (the control-room wall).

A small aiohttp server subscribes to the service's public MQTT state (room snapshots, alarm
events, vitals) exactly as the dashboard does, folds it into the dashboard's own model, and
pushes the rendered board to every browser over a WebSocket. It holds no MQTT command
channel at all, so nothing a browser does can reach the service (docs/web.md says why this
and not textual-serve).
"""
