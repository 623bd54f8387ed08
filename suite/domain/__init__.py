"""The pure domain of procsuite: cases, their workflow, timers and (later) alarms and dose.

No I/O, no clock reads, no asyncio: time comes in as data.
"""
